DROP INDEX `task_queue_dataset_claim`;--> statement-breakpoint
ALTER TABLE `task_queue` ADD `job_active` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
CREATE INDEX `task_queue_active_claim` ON `task_queue` (`dataset_id`,`job_active`,`seq`,`cpu`,`gpu`,`memory`,`disk`,`time`,`has_other`,`task_id`);