-- task_depends mirrors each task's `depends` list, whatever route wrote the document.
CREATE TRIGGER `task_depends_insert` AFTER INSERT ON `tasks`
  WHEN json_type(new.doc, '$.depends') = 'array' BEGIN
  INSERT OR IGNORE INTO `task_depends` (`task_id`, `depends_on`)
    SELECT new.task_id, value FROM json_each(new.doc, '$.depends') WHERE type = 'text';
END;
--> statement-breakpoint
CREATE TRIGGER `task_depends_update` AFTER UPDATE ON `tasks`
  WHEN json_extract(old.doc, '$.depends') IS NOT json_extract(new.doc, '$.depends') BEGIN
  DELETE FROM `task_depends` WHERE `task_id` = old.task_id;
  INSERT OR IGNORE INTO `task_depends` (`task_id`, `depends_on`)
    SELECT new.task_id, value FROM json_each(new.doc, '$.depends')
    WHERE json_type(new.doc, '$.depends') = 'array' AND type = 'text';
END;
--> statement-breakpoint
CREATE TRIGGER `task_depends_delete` AFTER DELETE ON `tasks` BEGIN
  DELETE FROM `task_depends` WHERE `task_id` = old.task_id;
END;
