-- Queue rows carry their task's dataset, for the scheduler's claims, which
-- walk one dataset's queued tasks at a time (see 0004 for what the rows hold).
UPDATE `task_queue` SET `dataset_id` = (SELECT `dataset_id` FROM `tasks` WHERE `tasks`.`task_id` = `task_queue`.`task_id`);
--> statement-breakpoint
DROP TRIGGER `task_queue_insert`;
--> statement-breakpoint
DROP TRIGGER `task_queue_update_enter`;
--> statement-breakpoint
CREATE TRIGGER `task_queue_insert` AFTER INSERT ON `tasks`
  WHEN new.status = 'queued' BEGIN
  INSERT OR REPLACE INTO `task_queue` (`task_id`, `dataset_id`, `priority`, `seq`, `cpu`, `gpu`, `memory`, `disk`, `time`, `has_other`, `requirements`)
    SELECT new.task_id, new.dataset_id,
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
CREATE TRIGGER `task_queue_update_enter` AFTER UPDATE ON `tasks`
  WHEN new.status = 'queued' AND (old.status IS NOT 'queued' OR old.dataset_id IS NOT new.dataset_id
    OR json_extract(old.doc, '$.requirements') IS NOT json_extract(new.doc, '$.requirements')) BEGIN
  INSERT OR REPLACE INTO `task_queue` (`task_id`, `dataset_id`, `priority`, `seq`, `cpu`, `gpu`, `memory`, `disk`, `time`, `has_other`, `requirements`)
    SELECT new.task_id, new.dataset_id,
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
