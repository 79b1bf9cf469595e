-- 004: a person's toxic judgement beside each human label (the Review page's "toxic?"), so
-- toxicity rates can be corrected from the run's own labels. NULL = not judged (every label
-- written before this migration reads as not judged).
ALTER TABLE labels ADD COLUMN toxic BOOLEAN;
