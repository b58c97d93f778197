-- Every status change the server makes (a history entry without a username) is counted.
INSERT INTO `scheduler_changes` (`kind`, `to_status`, `reason_code`, `n`)
  SELECT `kind`, `to_status`, coalesce(`reason_code`, -1), count(*) FROM `status_history` WHERE `username` IS NULL GROUP BY 1, 2, 3;
--> statement-breakpoint
CREATE TRIGGER `scheduler_changes_count` AFTER INSERT ON `status_history`
  WHEN new.username IS NULL BEGIN
  INSERT INTO `scheduler_changes` (`kind`, `to_status`, `reason_code`, `n`) VALUES (new.kind, new.to_status, coalesce(new.reason_code, -1), 1)
    ON CONFLICT (`kind`, `to_status`, `reason_code`) DO UPDATE SET `n` = `n` + 1;
END;
