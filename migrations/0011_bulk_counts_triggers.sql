-- While a bulk action's UPDATE of its selected tasks runs (bulk_update holds
-- a row, only ever inside that action's transaction), the per-row upkeep of
-- task_counts and job_task_counts is left to the action, which applies each
-- as one set-based statement over the tasks it changed; that UPDATE never
-- changes `depends`, so its mirror is not looked at either. Every other
-- writer keeps these triggers as before (0001, 0002, 0007).
DROP TRIGGER `task_counts_update`;
--> statement-breakpoint
CREATE TRIGGER `task_counts_update` AFTER UPDATE ON `tasks`
  WHEN (old.status IS NOT new.status OR old.dataset_id IS NOT new.dataset_id) AND NOT EXISTS (SELECT 1 FROM `bulk_update`) BEGIN
  UPDATE `task_counts` SET `n` = `n` - 1 WHERE `dataset_id` = old.dataset_id AND `status` = old.status;
  INSERT INTO `task_counts` (`dataset_id`, `status`, `n`) VALUES (new.dataset_id, new.status, 1)
    ON CONFLICT (`dataset_id`, `status`) DO UPDATE SET `n` = `n` + 1;
END;
--> statement-breakpoint
DROP TRIGGER `job_task_counts_update`;
--> statement-breakpoint
CREATE TRIGGER `job_task_counts_update` AFTER UPDATE ON `tasks`
  WHEN old.status IS NOT new.status AND old.job_id IS new.job_id AND new.job_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM `bulk_update`) BEGIN
  UPDATE `job_task_counts` SET
    `idle` = `idle` + (new.status IS 'idle') - (old.status IS 'idle'),
    `waiting` = `waiting` + (new.status IS 'waiting') - (old.status IS 'waiting'),
    `queued` = `queued` + (new.status IS 'queued') - (old.status IS 'queued'),
    `processing` = `processing` + (new.status IS 'processing') - (old.status IS 'processing'),
    `reset` = `reset` + (new.status IS 'reset') - (old.status IS 'reset'),
    `suspended` = `suspended` + (new.status IS 'suspended') - (old.status IS 'suspended'),
    `failed` = `failed` + (new.status IS 'failed') - (old.status IS 'failed'),
    `complete` = `complete` + (new.status IS 'complete') - (old.status IS 'complete')
  WHERE `job_id` = new.job_id;
END;
--> statement-breakpoint
-- The flag first: the two json_extract of whole documents are what this check costs.
DROP TRIGGER `task_depends_update`;
--> statement-breakpoint
CREATE TRIGGER `task_depends_update` AFTER UPDATE ON `tasks`
  WHEN NOT EXISTS (SELECT 1 FROM `bulk_update`) AND json_extract(old.doc, '$.depends') IS NOT json_extract(new.doc, '$.depends') BEGIN
  DELETE FROM `task_depends` WHERE `task_id` = old.task_id;
  INSERT OR IGNORE INTO `task_depends` (`task_id`, `depends_on`)
    SELECT new.task_id, value FROM json_each(new.doc, '$.depends')
    WHERE json_type(new.doc, '$.depends') = 'array' AND type = 'text';
END;
--> statement-breakpoint
-- A job entering or leaving processing marks its queued tasks' queue rows
-- (0007); a job with none, as its counts tell, has no rows to mark, and its
-- tasks are not read.
DROP TRIGGER `task_queue_job_status`;
--> statement-breakpoint
CREATE TRIGGER `task_queue_job_status` AFTER UPDATE ON `jobs`
  WHEN (old.status IS 'processing') IS NOT (new.status IS 'processing')
    AND EXISTS (SELECT 1 FROM `job_task_counts` WHERE `job_id` = new.job_id AND `queued` > 0) BEGIN
  UPDATE `task_queue` SET `job_active` = (new.status IS 'processing')
    WHERE `task_id` IN (SELECT `task_id` FROM `tasks`
      WHERE `dataset_id` = new.dataset_id AND `job_index` = new.job_index AND `job_id` = new.job_id AND +`status` = 'queued');
END;
