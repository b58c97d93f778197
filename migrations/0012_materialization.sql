CREATE TABLE `materialization` (
	`dataset_id` text PRIMARY KEY NOT NULL,
	`next_index` integer NOT NULL
);
