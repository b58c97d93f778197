CREATE TABLE `job_task_counts` (
	`job_id` text PRIMARY KEY NOT NULL,
	`idle` integer DEFAULT 0 NOT NULL,
	`waiting` integer DEFAULT 0 NOT NULL,
	`queued` integer DEFAULT 0 NOT NULL,
	`processing` integer DEFAULT 0 NOT NULL,
	`reset` integer DEFAULT 0 NOT NULL,
	`suspended` integer DEFAULT 0 NOT NULL,
	`failed` integer DEFAULT 0 NOT NULL,
	`complete` integer DEFAULT 0 NOT NULL
);
--> statement-breakpoint
CREATE TABLE `materialization` (
	`dataset_id` text PRIMARY KEY NOT NULL,
	`next_index` integer NOT NULL
);
--> statement-breakpoint
CREATE TABLE `pilot_tasks` (
	`task_id` text NOT NULL,
	`pilot_id` text NOT NULL,
	PRIMARY KEY(`task_id`, `pilot_id`)
);
--> statement-breakpoint
CREATE INDEX `pilot_tasks_pilot` ON `pilot_tasks` (`pilot_id`);--> statement-breakpoint
CREATE TABLE `processing_since` (
	`since` text NOT NULL,
	`task_id` text NOT NULL,
	PRIMARY KEY(`since`, `task_id`)
);
--> statement-breakpoint
CREATE TABLE `scheduler_changes` (
	`kind` integer NOT NULL,
	`to_status` integer NOT NULL,
	`reason_code` integer NOT NULL,
	`n` integer NOT NULL,
	PRIMARY KEY(`kind`, `to_status`, `reason_code`)
);
--> statement-breakpoint
CREATE TABLE `status_history` (
	`entry` integer PRIMARY KEY NOT NULL,
	`kind` integer NOT NULL,
	`subject` integer NOT NULL,
	`time` integer NOT NULL,
	`from_status` integer NOT NULL,
	`to_status` integer NOT NULL,
	`username` text,
	`role` text,
	`reason_code` integer,
	`reason` text
);
--> statement-breakpoint
CREATE INDEX `status_history_subject` ON `status_history` (`kind`,`subject`);--> statement-breakpoint
ALTER TABLE `pilots` ADD `last_update` text GENERATED ALWAYS AS (json_extract(doc, '$.last_update')) VIRTUAL;--> statement-breakpoint
CREATE INDEX `pilots_last_update` ON `pilots` (`last_update`);--> statement-breakpoint
ALTER TABLE `task_queue` ADD `dataset` integer;--> statement-breakpoint
ALTER TABLE `task_queue` ADD `job_active` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
CREATE INDEX `task_queue_active_claim` ON `task_queue` (`dataset`,`job_active`,`seq`,`cpu`,`gpu`,`memory`,`disk`,`time`,`has_other`,`task_id`);--> statement-breakpoint
CREATE INDEX `task_counts_status` ON `task_counts` (`status`,`dataset_id`);--> statement-breakpoint
CREATE INDEX `task_depends_on` ON `task_depends` (`depends_on`);