CREATE TABLE `pilot_tasks` (
	`task_id` text NOT NULL,
	`pilot_id` text NOT NULL,
	PRIMARY KEY(`task_id`, `pilot_id`)
);
--> statement-breakpoint
CREATE INDEX `pilot_tasks_pilot` ON `pilot_tasks` (`pilot_id`);--> statement-breakpoint
ALTER TABLE `pilots` ADD `last_update` text GENERATED ALWAYS AS (json_extract(doc, '$.last_update')) VIRTUAL;--> statement-breakpoint
CREATE INDEX `pilots_last_update` ON `pilots` (`last_update`);--> statement-breakpoint
ALTER TABLE `tasks` ADD `status_changed` text GENERATED ALWAYS AS (json_extract(doc, '$.status_changed')) VIRTUAL;--> statement-breakpoint
CREATE INDEX `tasks_processing_since` ON `tasks` (`status_changed`) WHERE status = 'processing';