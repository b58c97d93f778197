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
