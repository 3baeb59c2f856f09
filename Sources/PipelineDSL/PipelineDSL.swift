/// Recipes, validation, planning, hashing, the cache and the executor (issue 3).
public enum PipelineDSL {}
