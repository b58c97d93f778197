-- Status counts per dataset, kept exact by triggers in the same transaction as every write.
CREATE TRIGGER `task_counts_insert` AFTER INSERT ON `tasks` BEGIN
  INSERT INTO `task_counts` (`dataset_id`, `status`, `n`) VALUES (new.dataset_id, new.status, 1)
    ON CONFLICT (`dataset_id`, `status`) DO UPDATE SET `n` = `n` + 1;
END;
--> statement-breakpoint
CREATE TRIGGER `task_counts_update` AFTER UPDATE ON `tasks`
  WHEN old.status IS NOT new.status OR old.dataset_id IS NOT new.dataset_id BEGIN
  UPDATE `task_counts` SET `n` = `n` - 1 WHERE `dataset_id` = old.dataset_id AND `status` = old.status;
  INSERT INTO `task_counts` (`dataset_id`, `status`, `n`) VALUES (new.dataset_id, new.status, 1)
    ON CONFLICT (`dataset_id`, `status`) DO UPDATE SET `n` = `n` + 1;
END;
--> statement-breakpoint
CREATE TRIGGER `task_counts_delete` AFTER DELETE ON `tasks` BEGIN
  UPDATE `task_counts` SET `n` = `n` - 1 WHERE `dataset_id` = old.dataset_id AND `status` = old.status;
END;
--> statement-breakpoint
CREATE TRIGGER `job_counts_insert` AFTER INSERT ON `jobs` BEGIN
  INSERT INTO `job_counts` (`dataset_id`, `status`, `n`) VALUES (new.dataset_id, new.status, 1)
    ON CONFLICT (`dataset_id`, `status`) DO UPDATE SET `n` = `n` + 1;
END;
--> statement-breakpoint
CREATE TRIGGER `job_counts_update` AFTER UPDATE ON `jobs`
  WHEN old.status IS NOT new.status OR old.dataset_id IS NOT new.dataset_id BEGIN
  UPDATE `job_counts` SET `n` = `n` - 1 WHERE `dataset_id` = old.dataset_id AND `status` = old.status;
  INSERT INTO `job_counts` (`dataset_id`, `status`, `n`) VALUES (new.dataset_id, new.status, 1)
    ON CONFLICT (`dataset_id`, `status`) DO UPDATE SET `n` = `n` + 1;
END;
--> statement-breakpoint
CREATE TRIGGER `job_counts_delete` AFTER DELETE ON `jobs` BEGIN
  UPDATE `job_counts` SET `n` = `n` - 1 WHERE `dataset_id` = old.dataset_id AND `status` = old.status;
END;
--> statement-breakpoint
-- Built-in roles exist from the first start.
INSERT INTO `roles` (`name`, `doc`) VALUES
  ('user', '{"name":"user"}'),
  ('admin', '{"name":"admin"}'),
  ('system', '{"name":"system"}'),
  ('client', '{"name":"client"}'),
  ('pilot', '{"name":"pilot"}'),
  ('anonymous', '{"name":"anonymous"}');
--> statement-breakpoint
INSERT INTO `sequences` (`name`, `value`) VALUES ('dataset', 0);
