-- A multiclass classifier's decision: the probability of each class (a JSON array in its version's class
-- order); NULL for models with one score.
ALTER TABLE decisions ADD COLUMN probabilities TEXT;
