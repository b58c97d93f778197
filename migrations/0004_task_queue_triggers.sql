-- task_queue holds exactly the tasks whose status is `queued`, whatever route
-- (queue action, status PUT, PATCH, delete) changed the task, so that no route
-- needs to know about the queue. A task's row carries its dataset's priority,
-- its creation order (rowid) as `seq`, its numeric requirements as columns and
-- `has_other` = 1 when it states any requirement those columns cannot test
-- (another key, or a non-number value under a numeric key); null values state nothing.
CREATE TRIGGER `task_queue_insert` AFTER INSERT ON `tasks`
  WHEN new.status = 'queued' BEGIN
  INSERT OR REPLACE INTO `task_queue` (`task_id`, `priority`, `seq`, `cpu`, `gpu`, `memory`, `disk`, `time`, `has_other`, `requirements`)
    SELECT new.task_id,
      coalesce((SELECT `priority` FROM `datasets` WHERE `dataset_id` = new.dataset_id), 0),
      new.rowid,
      CASE WHEN json_type(r, '$.cpu') IN ('integer', 'real') THEN json_extract(r, '$.cpu') END,
      CASE WHEN json_type(r, '$.gpu') IN ('integer', 'real') THEN json_extract(r, '$.gpu') END,
      CASE WHEN json_type(r, '$.memory') IN ('integer', 'real') THEN json_extract(r, '$.memory') END,
      CASE WHEN json_type(r, '$.disk') IN ('integer', 'real') THEN json_extract(r, '$.disk') END,
      CASE WHEN json_type(r, '$.time') IN ('integer', 'real') THEN json_extract(r, '$.time') END,
      EXISTS (SELECT 1 FROM json_each(r) WHERE type <> 'null'
        AND (key NOT IN ('cpu', 'gpu', 'memory', 'disk', 'time') OR type NOT IN ('integer', 'real'))),
      r
    FROM (SELECT CASE WHEN json_type(new.doc, '$.requirements') = 'object'
      THEN json_extract(new.doc, '$.requirements') ELSE '{}' END AS r);
END;
--> statement-breakpoint
-- Entering the queue, or a queued task whose requirements or dataset changed: (re)write its row.
CREATE TRIGGER `task_queue_update_enter` AFTER UPDATE ON `tasks`
  WHEN new.status = 'queued' AND (old.status IS NOT 'queued' OR old.dataset_id IS NOT new.dataset_id
    OR json_extract(old.doc, '$.requirements') IS NOT json_extract(new.doc, '$.requirements')) BEGIN
  INSERT OR REPLACE INTO `task_queue` (`task_id`, `priority`, `seq`, `cpu`, `gpu`, `memory`, `disk`, `time`, `has_other`, `requirements`)
    SELECT new.task_id,
      coalesce((SELECT `priority` FROM `datasets` WHERE `dataset_id` = new.dataset_id), 0),
      new.rowid,
      CASE WHEN json_type(r, '$.cpu') IN ('integer', 'real') THEN json_extract(r, '$.cpu') END,
      CASE WHEN json_type(r, '$.gpu') IN ('integer', 'real') THEN json_extract(r, '$.gpu') END,
      CASE WHEN json_type(r, '$.memory') IN ('integer', 'real') THEN json_extract(r, '$.memory') END,
      CASE WHEN json_type(r, '$.disk') IN ('integer', 'real') THEN json_extract(r, '$.disk') END,
      CASE WHEN json_type(r, '$.time') IN ('integer', 'real') THEN json_extract(r, '$.time') END,
      EXISTS (SELECT 1 FROM json_each(r) WHERE type <> 'null'
        AND (key NOT IN ('cpu', 'gpu', 'memory', 'disk', 'time') OR type NOT IN ('integer', 'real'))),
      r
    FROM (SELECT CASE WHEN json_type(new.doc, '$.requirements') = 'object'
      THEN json_extract(new.doc, '$.requirements') ELSE '{}' END AS r);
END;
--> statement-breakpoint
CREATE TRIGGER `task_queue_update_leave` AFTER UPDATE ON `tasks`
  WHEN old.status = 'queued' AND new.status IS NOT 'queued' BEGIN
  DELETE FROM `task_queue` WHERE `task_id` = old.task_id;
END;
--> statement-breakpoint
CREATE TRIGGER `task_queue_delete` AFTER DELETE ON `tasks`
  WHEN old.status = 'queued' BEGIN
  DELETE FROM `task_queue` WHERE `task_id` = old.task_id;
END;
--> statement-breakpoint
-- A dataset's new priority reaches its queued tasks.
CREATE TRIGGER `task_queue_dataset_priority` AFTER UPDATE ON `datasets`
  WHEN old.priority IS NOT new.priority BEGIN
  UPDATE `task_queue` SET `priority` = new.priority
    WHERE `task_id` IN (SELECT `task_id` FROM `tasks` WHERE `dataset_id` = new.dataset_id AND `status` = 'queued');
END;
