-- Queue rows say whether their task's job is processing: the scheduler hands
-- out only those, along its index, without passing over the others one by one.
UPDATE `task_queue` SET `job_active` = coalesce((SELECT j.`status` = 'processing' FROM `tasks` t JOIN `jobs` j ON j.`job_id` = t.`job_id` WHERE t.`task_id` = `task_queue`.`task_id`), 0);
--> statement-breakpoint
DROP TRIGGER `task_queue_insert`;
--> statement-breakpoint
DROP TRIGGER `task_queue_update_enter`;
--> statement-breakpoint
CREATE TRIGGER `task_queue_insert` AFTER INSERT ON `tasks`
  WHEN new.status = 'queued' BEGIN
  INSERT OR REPLACE INTO `task_queue` (`task_id`, `dataset_id`, `job_active`, `priority`, `seq`, `cpu`, `gpu`, `memory`, `disk`, `time`, `has_other`, `requirements`)
    SELECT new.task_id, new.dataset_id,
      coalesce((SELECT `status` = 'processing' FROM `jobs` WHERE `job_id` = new.job_id), 0),
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
  INSERT OR REPLACE INTO `task_queue` (`task_id`, `dataset_id`, `job_active`, `priority`, `seq`, `cpu`, `gpu`, `memory`, `disk`, `time`, `has_other`, `requirements`)
    SELECT new.task_id, new.dataset_id,
      coalesce((SELECT `status` = 'processing' FROM `jobs` WHERE `job_id` = new.job_id), 0),
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
-- A job entering or leaving processing: its queued tasks' rows follow (the
-- unary + keeps SQLite on the job's index, off the dataset's queued tasks).
CREATE TRIGGER `task_queue_job_status` AFTER UPDATE ON `jobs`
  WHEN (old.status IS 'processing') IS NOT (new.status IS 'processing') BEGIN
  UPDATE `task_queue` SET `job_active` = (new.status IS 'processing')
    WHERE `task_id` IN (SELECT `task_id` FROM `tasks`
      WHERE `dataset_id` = new.dataset_id AND `job_index` = new.job_index AND `job_id` = new.job_id AND +`status` = 'queued');
END;
