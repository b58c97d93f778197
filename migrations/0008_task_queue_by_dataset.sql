ALTER TABLE `task_queue` ADD `dataset_id` text;--> statement-breakpoint
CREATE INDEX `task_queue_dataset_claim` ON `task_queue` (`dataset_id`,`seq`,`cpu`,`gpu`,`memory`,`disk`,`time`,`has_other`,`task_id`);--> statement-breakpoint
CREATE INDEX `task_counts_status` ON `task_counts` (`status`,`dataset_id`);--> statement-breakpoint
CREATE INDEX `task_depends_on` ON `task_depends` (`depends_on`);