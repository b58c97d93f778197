CREATE TABLE `auths` (
	`dataset_id` text PRIMARY KEY NOT NULL,
	`doc` text NOT NULL
);
--> statement-breakpoint
CREATE TABLE `configs` (
	`dataset_id` text PRIMARY KEY NOT NULL,
	`doc` text NOT NULL
);
--> statement-breakpoint
CREATE TABLE `datasets` (
	`dataset_id` text PRIMARY KEY NOT NULL,
	`dataset` integer GENERATED ALWAYS AS (json_extract(doc, '$.dataset')) STORED,
	`status` text GENERATED ALWAYS AS (json_extract(doc, '$.status')) STORED,
	`priority` real GENERATED ALWAYS AS (coalesce(json_extract(doc, '$.priority'), 0)) STORED,
	`doc` text NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `datasets_dataset` ON `datasets` (`dataset`);--> statement-breakpoint
CREATE INDEX `datasets_status` ON `datasets` (`status`);--> statement-breakpoint
CREATE TABLE `grids` (
	`grid_id` text PRIMARY KEY NOT NULL,
	`doc` text NOT NULL
);
--> statement-breakpoint
CREATE TABLE `groups` (
	`group_id` text PRIMARY KEY NOT NULL,
	`name` text GENERATED ALWAYS AS (json_extract(doc, '$.name')) STORED,
	`doc` text NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `groups_name` ON `groups` (`name`);--> statement-breakpoint
CREATE TABLE `job_counts` (
	`dataset_id` text NOT NULL,
	`status` text NOT NULL,
	`n` integer NOT NULL,
	PRIMARY KEY(`dataset_id`, `status`)
);
--> statement-breakpoint
CREATE TABLE `jobs` (
	`job_id` text PRIMARY KEY NOT NULL,
	`dataset_id` text GENERATED ALWAYS AS (json_extract(doc, '$.dataset_id')) STORED,
	`job_index` integer GENERATED ALWAYS AS (json_extract(doc, '$.job_index')) STORED,
	`status` text GENERATED ALWAYS AS (json_extract(doc, '$.status')) STORED,
	`doc` text NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `jobs_dataset_job_index` ON `jobs` (`dataset_id`,`job_index`);--> statement-breakpoint
CREATE INDEX `jobs_dataset_status` ON `jobs` (`dataset_id`,`status`);--> statement-breakpoint
CREATE TABLE `logs` (
	`log_id` text PRIMARY KEY NOT NULL,
	`dataset_id` text GENERATED ALWAYS AS (json_extract(doc, '$.dataset_id')) STORED,
	`task_id` text GENERATED ALWAYS AS (json_extract(doc, '$.task_id')) STORED,
	`name` text GENERATED ALWAYS AS (json_extract(doc, '$.name')) STORED,
	`encoding` text NOT NULL,
	`data` blob NOT NULL,
	`doc` text NOT NULL
);
--> statement-breakpoint
CREATE INDEX `logs_dataset_task` ON `logs` (`dataset_id`,`task_id`);--> statement-breakpoint
CREATE TABLE `pilots` (
	`pilot_id` text PRIMARY KEY NOT NULL,
	`grid_id` text GENERATED ALWAYS AS (json_extract(doc, '$.grid_id')) STORED,
	`doc` text NOT NULL
);
--> statement-breakpoint
CREATE INDEX `pilots_grid` ON `pilots` (`grid_id`);--> statement-breakpoint
CREATE TABLE `roles` (
	`name` text PRIMARY KEY NOT NULL,
	`doc` text NOT NULL
);
--> statement-breakpoint
CREATE TABLE `sequences` (
	`name` text PRIMARY KEY NOT NULL,
	`value` integer NOT NULL
);
--> statement-breakpoint
CREATE TABLE `task_counts` (
	`dataset_id` text NOT NULL,
	`status` text NOT NULL,
	`n` integer NOT NULL,
	PRIMARY KEY(`dataset_id`, `status`)
);
--> statement-breakpoint
CREATE TABLE `task_depends` (
	`task_id` text NOT NULL,
	`depends_on` text NOT NULL,
	PRIMARY KEY(`task_id`, `depends_on`)
);
--> statement-breakpoint
CREATE TABLE `task_queue` (
	`task_id` text PRIMARY KEY NOT NULL,
	`priority` real NOT NULL,
	`seq` integer NOT NULL,
	`cpu` real,
	`gpu` real,
	`memory` real,
	`disk` real,
	`time` real,
	`has_other` integer NOT NULL,
	`requirements` text NOT NULL
);
--> statement-breakpoint
CREATE INDEX `task_queue_order` ON `task_queue` (priority DESC,`seq`);--> statement-breakpoint
CREATE TABLE `task_stats` (
	`task_stat_id` text PRIMARY KEY NOT NULL,
	`task_id` text GENERATED ALWAYS AS (json_extract(doc, '$.task_id')) STORED,
	`dataset_id` text GENERATED ALWAYS AS (json_extract(doc, '$.dataset_id')) STORED,
	`doc` text NOT NULL
);
--> statement-breakpoint
CREATE INDEX `task_stats_task` ON `task_stats` (`task_id`);--> statement-breakpoint
CREATE TABLE `tasks` (
	`task_id` text PRIMARY KEY NOT NULL,
	`dataset_id` text GENERATED ALWAYS AS (json_extract(doc, '$.dataset_id')) STORED,
	`job_id` text GENERATED ALWAYS AS (json_extract(doc, '$.job_id')) STORED,
	`job_index` integer GENERATED ALWAYS AS (json_extract(doc, '$.job_index')) STORED,
	`task_index` integer GENERATED ALWAYS AS (json_extract(doc, '$.task_index')) STORED,
	`name` text GENERATED ALWAYS AS (json_extract(doc, '$.name')) STORED,
	`status` text GENERATED ALWAYS AS (json_extract(doc, '$.status')) STORED,
	`grid_id` text GENERATED ALWAYS AS (json_extract(doc, '$.grid_id')) STORED,
	`doc` text NOT NULL
);
--> statement-breakpoint
CREATE INDEX `tasks_dataset` ON `tasks` (`dataset_id`);--> statement-breakpoint
CREATE INDEX `tasks_dataset_status` ON `tasks` (`dataset_id`,`status`);--> statement-breakpoint
CREATE INDEX `tasks_dataset_job_index` ON `tasks` (`dataset_id`,`job_index`);--> statement-breakpoint
CREATE INDEX `tasks_dataset_grid` ON `tasks` (`dataset_id`,`grid_id`) WHERE grid_id IS NOT NULL;--> statement-breakpoint
CREATE INDEX `tasks_job` ON `tasks` (`job_id`);--> statement-breakpoint
CREATE INDEX `tasks_status` ON `tasks` (`status`);--> statement-breakpoint
CREATE TABLE `users` (
	`user_id` text PRIMARY KEY NOT NULL,
	`username` text GENERATED ALWAYS AS (json_extract(doc, '$.username')) STORED,
	`doc` text NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `users_username` ON `users` (`username`);