-- job_task_counts holds each job's task counts by status, kept exact by
-- triggers in the same transaction as every task insert, status change or
-- delete, whatever route made it (like task_counts, 0001). A status outside
-- the task statuses counts in no column.
INSERT INTO `job_task_counts` (`job_id`, `idle`, `waiting`, `queued`, `processing`, `reset`, `suspended`, `failed`, `complete`)
  SELECT job_id, sum(status IS 'idle'), sum(status IS 'waiting'), sum(status IS 'queued'), sum(status IS 'processing'), sum(status IS 'reset'), sum(status IS 'suspended'), sum(status IS 'failed'), sum(status IS 'complete')
  FROM tasks WHERE job_id IS NOT NULL GROUP BY job_id;
--> statement-breakpoint
CREATE TRIGGER `job_task_counts_insert` AFTER INSERT ON `tasks`
  WHEN new.job_id IS NOT NULL BEGIN
  INSERT INTO `job_task_counts` (`job_id`, `idle`, `waiting`, `queued`, `processing`, `reset`, `suspended`, `failed`, `complete`)
    VALUES (new.job_id, new.status IS 'idle', new.status IS 'waiting', new.status IS 'queued', new.status IS 'processing', new.status IS 'reset', new.status IS 'suspended', new.status IS 'failed', new.status IS 'complete')
    ON CONFLICT (`job_id`) DO UPDATE SET `idle` = `idle` + excluded.`idle`, `waiting` = `waiting` + excluded.`waiting`, `queued` = `queued` + excluded.`queued`, `processing` = `processing` + excluded.`processing`, `reset` = `reset` + excluded.`reset`, `suspended` = `suspended` + excluded.`suspended`, `failed` = `failed` + excluded.`failed`, `complete` = `complete` + excluded.`complete`;
END;
--> statement-breakpoint
-- A status change within the job: one update of its row.
CREATE TRIGGER `job_task_counts_update` AFTER UPDATE ON `tasks`
  WHEN old.status IS NOT new.status AND old.job_id IS new.job_id AND new.job_id IS NOT NULL BEGIN
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
-- A task moved to another job (only plain SQL can do that: the API keeps job_id).
CREATE TRIGGER `job_task_counts_move` AFTER UPDATE ON `tasks`
  WHEN old.job_id IS NOT new.job_id BEGIN
  UPDATE `job_task_counts` SET
    `idle` = `idle` - (old.status IS 'idle'),
    `waiting` = `waiting` - (old.status IS 'waiting'),
    `queued` = `queued` - (old.status IS 'queued'),
    `processing` = `processing` - (old.status IS 'processing'),
    `reset` = `reset` - (old.status IS 'reset'),
    `suspended` = `suspended` - (old.status IS 'suspended'),
    `failed` = `failed` - (old.status IS 'failed'),
    `complete` = `complete` - (old.status IS 'complete')
  WHERE `job_id` = old.job_id;
  INSERT INTO `job_task_counts` (`job_id`, `idle`, `waiting`, `queued`, `processing`, `reset`, `suspended`, `failed`, `complete`)
    SELECT new.job_id, new.status IS 'idle', new.status IS 'waiting', new.status IS 'queued', new.status IS 'processing', new.status IS 'reset', new.status IS 'suspended', new.status IS 'failed', new.status IS 'complete' WHERE new.job_id IS NOT NULL
    ON CONFLICT (`job_id`) DO UPDATE SET `idle` = `idle` + excluded.`idle`, `waiting` = `waiting` + excluded.`waiting`, `queued` = `queued` + excluded.`queued`, `processing` = `processing` + excluded.`processing`, `reset` = `reset` + excluded.`reset`, `suspended` = `suspended` + excluded.`suspended`, `failed` = `failed` + excluded.`failed`, `complete` = `complete` + excluded.`complete`;
END;
--> statement-breakpoint
CREATE TRIGGER `job_task_counts_delete` AFTER DELETE ON `tasks`
  WHEN old.job_id IS NOT NULL BEGIN
  UPDATE `job_task_counts` SET
    `idle` = `idle` - (old.status IS 'idle'),
    `waiting` = `waiting` - (old.status IS 'waiting'),
    `queued` = `queued` - (old.status IS 'queued'),
    `processing` = `processing` - (old.status IS 'processing'),
    `reset` = `reset` - (old.status IS 'reset'),
    `suspended` = `suspended` - (old.status IS 'suspended'),
    `failed` = `failed` - (old.status IS 'failed'),
    `complete` = `complete` - (old.status IS 'complete')
  WHERE `job_id` = old.job_id;
END;
