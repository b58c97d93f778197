-- pilot_tasks mirrors each pilot's `tasks` list, whatever route wrote the
-- pilot (like task_depends, 0002): the strings of the list, each once.
INSERT OR IGNORE INTO `pilot_tasks` (`task_id`, `pilot_id`)
  SELECT j.value, p.pilot_id FROM pilots p, json_each(p.doc, '$.tasks') j
  WHERE json_type(p.doc, '$.tasks') = 'array' AND j.type = 'text';
--> statement-breakpoint
CREATE TRIGGER `pilot_tasks_insert` AFTER INSERT ON `pilots`
  WHEN json_type(new.doc, '$.tasks') = 'array' BEGIN
  INSERT OR IGNORE INTO `pilot_tasks` (`task_id`, `pilot_id`)
    SELECT value, new.pilot_id FROM json_each(new.doc, '$.tasks') WHERE type = 'text';
END;
--> statement-breakpoint
CREATE TRIGGER `pilot_tasks_update` AFTER UPDATE ON `pilots`
  WHEN json_extract(old.doc, '$.tasks') IS NOT json_extract(new.doc, '$.tasks') BEGIN
  DELETE FROM `pilot_tasks` WHERE `pilot_id` = old.pilot_id;
  INSERT OR IGNORE INTO `pilot_tasks` (`task_id`, `pilot_id`)
    SELECT value, new.pilot_id FROM json_each(new.doc, '$.tasks')
    WHERE json_type(new.doc, '$.tasks') = 'array' AND type = 'text';
END;
--> statement-breakpoint
CREATE TRIGGER `pilot_tasks_delete` AFTER DELETE ON `pilots` BEGIN
  DELETE FROM `pilot_tasks` WHERE `pilot_id` = old.pilot_id;
END;
