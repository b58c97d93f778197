CREATE TABLE `bulk_update` (
	`active` integer PRIMARY KEY NOT NULL
);
