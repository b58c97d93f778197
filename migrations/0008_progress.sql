CREATE TABLE `task_completions` (
	`dataset_id` text NOT NULL,
	`slot` integer NOT NULL,
	`minute` integer NOT NULL,
	`n` integer NOT NULL,
	PRIMARY KEY(`dataset_id`, `slot`)
);
