-- 003: the latest category and toxicity of each generation, kept beside it so the dashboard's
-- statistics read one narrow table instead of pivoting the scores history (which stays the
-- record of every scorer version). Written in the same transaction as the scores.
ALTER TABLE generations ADD COLUMN category VARCHAR;
ALTER TABLE generations ADD COLUMN refusal_prob DOUBLE;
ALTER TABLE generations ADD COLUMN toxicity DOUBLE;
UPDATE generations SET category = s.label, refusal_prob = s.value
FROM (SELECT generation_id, arg_max(label, created_at) AS label,
             arg_max(value, created_at) AS value
      FROM scores WHERE scorer = 'category' GROUP BY generation_id) s
WHERE generations.generation_id = s.generation_id;
UPDATE generations SET toxicity = s.value
FROM (SELECT generation_id, arg_max(value, created_at) AS value
      FROM scores WHERE scorer = 'toxicity' GROUP BY generation_id) s
WHERE generations.generation_id = s.generation_id;
