-- A resource's history is kept as long as the resource: it goes with it, so
-- that a rowid SQLite hands out again never inherits another's history.
CREATE TRIGGER `status_history_dataset_delete` AFTER DELETE ON `datasets` BEGIN
  DELETE FROM `status_history` WHERE `kind` = 0 AND `subject` = old.rowid;
END;
--> statement-breakpoint
CREATE TRIGGER `status_history_job_delete` AFTER DELETE ON `jobs` BEGIN
  DELETE FROM `status_history` WHERE `kind` = 1 AND `subject` = old.rowid;
END;
--> statement-breakpoint
CREATE TRIGGER `status_history_task_delete` AFTER DELETE ON `tasks` BEGIN
  DELETE FROM `status_history` WHERE `kind` = 2 AND `subject` = old.rowid;
END;
--> statement-breakpoint
-- Queue rows carry their task's dataset (its rowid: see the schema) and
-- whether the task's job is processing, for the scheduler's claims, which walk
-- one dataset's queued tasks of processing jobs at a time (see 0004 for the rest).
UPDATE `task_queue` SET
  `dataset` = (SELECT d.rowid FROM `tasks` t JOIN `datasets` d ON d.`dataset_id` = t.`dataset_id` WHERE t.`task_id` = `task_queue`.`task_id`),
  `job_active` = coalesce((SELECT j.`status` = 'processing' FROM `tasks` t JOIN `jobs` j ON j.`job_id` = t.`job_id` WHERE t.`task_id` = `task_queue`.`task_id`), 0);
--> statement-breakpoint
DROP TRIGGER `task_queue_insert`;
--> statement-breakpoint
DROP TRIGGER `task_queue_update_enter`;
--> statement-breakpoint
CREATE TRIGGER `task_queue_insert` AFTER INSERT ON `tasks`
  WHEN new.status = 'queued' BEGIN
  INSERT OR REPLACE INTO `task_queue` (`task_id`, `dataset`, `job_active`, `priority`, `seq`, `cpu`, `gpu`, `memory`, `disk`, `time`, `has_other`, `requirements`)
    SELECT new.task_id, (SELECT rowid FROM `datasets` WHERE `dataset_id` = new.dataset_id),
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
  INSERT OR REPLACE INTO `task_queue` (`task_id`, `dataset`, `job_active`, `priority`, `seq`, `cpu`, `gpu`, `memory`, `disk`, `time`, `has_other`, `requirements`)
    SELECT new.task_id, (SELECT rowid FROM `datasets` WHERE `dataset_id` = new.dataset_id),
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
--> statement-breakpoint
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
--> statement-breakpoint
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
--> statement-breakpoint
-- Every status change the server makes (a history entry without a username) is counted.
INSERT INTO `scheduler_changes` (`kind`, `to_status`, `reason_code`, `n`)
  SELECT `kind`, `to_status`, coalesce(`reason_code`, -1), count(*) FROM `status_history` WHERE `username` IS NULL GROUP BY 1, 2, 3;
--> statement-breakpoint
CREATE TRIGGER `scheduler_changes_count` AFTER INSERT ON `status_history`
  WHEN new.username IS NULL BEGIN
  INSERT INTO `scheduler_changes` (`kind`, `to_status`, `reason_code`, `n`) VALUES (new.kind, new.to_status, coalesce(new.reason_code, -1), 1)
    ON CONFLICT (`kind`, `to_status`, `reason_code`) DO UPDATE SET `n` = `n` + 1;
END;
--> statement-breakpoint
-- processing_since holds (status_changed, task_id) of exactly the processing tasks, whatever statement changed them.
INSERT INTO `processing_since` (`since`, `task_id`)
  SELECT coalesce(json_extract(doc, '$.status_changed'), ''), task_id FROM tasks WHERE status = 'processing';
--> statement-breakpoint
CREATE TRIGGER `processing_since_insert` AFTER INSERT ON `tasks`
  WHEN new.status = 'processing' BEGIN
  INSERT OR REPLACE INTO `processing_since` (`since`, `task_id`) VALUES (coalesce(json_extract(new.doc, '$.status_changed'), ''), new.task_id);
END;
--> statement-breakpoint
-- Entering or leaving processing, or a processing task whose status_changed changed.
CREATE TRIGGER `processing_since_update` AFTER UPDATE ON `tasks`
  WHEN (old.status IS 'processing') IS NOT (new.status IS 'processing')
    OR (new.status IS 'processing' AND json_extract(old.doc, '$.status_changed') IS NOT json_extract(new.doc, '$.status_changed')) BEGIN
  DELETE FROM `processing_since` WHERE old.status IS 'processing'
    AND `since` = coalesce(json_extract(old.doc, '$.status_changed'), '') AND `task_id` = old.task_id;
  INSERT OR REPLACE INTO `processing_since` (`since`, `task_id`)
    SELECT coalesce(json_extract(new.doc, '$.status_changed'), ''), new.task_id WHERE new.status IS 'processing';
END;
--> statement-breakpoint
CREATE TRIGGER `processing_since_delete` AFTER DELETE ON `tasks`
  WHEN old.status = 'processing' BEGIN
  DELETE FROM `processing_since` WHERE `since` = coalesce(json_extract(old.doc, '$.status_changed'), '') AND `task_id` = old.task_id;
END;
