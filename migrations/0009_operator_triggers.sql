-- Completions per dataset and minute for progress (API.md §7.3), whatever
-- route completes a task: counted under the minute of the task's
-- status_changed (set by the same change), in slot minute % 60. A slot
-- holding an older minute starts over at 1; one holding a newer minute (a
-- completion stamped more than an hour before another) is left as it is.
CREATE TRIGGER `task_completions_count` AFTER UPDATE ON `tasks`
  WHEN new.status = 'complete' AND old.status IS NOT 'complete' AND new.dataset_id IS NOT NULL BEGIN
  INSERT INTO `task_completions` (`dataset_id`, `slot`, `minute`, `n`)
    SELECT new.dataset_id, `m` % 60, `m`, 1 FROM (SELECT unixepoch(json_extract(new.doc, '$.status_changed')) / 60 AS `m`) WHERE `m` IS NOT NULL
    ON CONFLICT (`dataset_id`, `slot`) DO UPDATE SET
      `n` = CASE WHEN excluded.`minute` = `minute` THEN `n` + 1 WHEN excluded.`minute` > `minute` THEN 1 ELSE `n` END,
      `minute` = max(`minute`, excluded.`minute`);
END;
