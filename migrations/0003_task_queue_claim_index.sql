DROP INDEX `task_queue_order`;--> statement-breakpoint
CREATE INDEX `task_queue_claim` ON `task_queue` (priority DESC,`seq`,`cpu`,`gpu`,`memory`,`disk`,`time`,`has_other`,`task_id`);