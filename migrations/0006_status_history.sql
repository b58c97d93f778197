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
CREATE INDEX `status_history_subject` ON `status_history` (`kind`,`subject`);