CREATE TABLE `scheduler_changes` (
	`kind` integer NOT NULL,
	`to_status` integer NOT NULL,
	`reason_code` integer NOT NULL,
	`n` integer NOT NULL,
	PRIMARY KEY(`kind`, `to_status`, `reason_code`)
);
