namespace Formanova.Modules.Model.Inference;

/// <summary>
/// What scores a loaded version: ML.NET prediction engines (<see cref="MlnetBackend"/>) or ONNX Runtime sessions
/// (<see cref="OnnxBackend"/>). Every serving path goes through <see cref="LoadedModel"/>, so both are served alike.
/// </summary>
internal abstract class ScoringBackend
{
    /// <summary>True when <see cref="ScoringWorker.PredictChunk"/> is one run rather than a loop over rows.</summary>
    public virtual bool ScoresChunks => false;

    /// <summary>A worker for one prediction or one chunk; it must be handed back with <see cref="Return"/>.</summary>
    public abstract ScoringWorker Rent();

    public abstract void Return(ScoringWorker worker);

    /// <summary>
    /// The version has left memory: what the backend holds outside the managed heap is released now, and a worker
    /// still rented is released when it comes back, rather than whenever a garbage collection finalizes it.
    /// </summary>
    public virtual void Retire()
    {
    }
}

/// <summary>One rented scorer. Inputs are the values <see cref="InputNormalizer"/> converted, one slot per feature column.</summary>
internal abstract class ScoringWorker
{
    /// <summary>Set when the worker threw in a way that may leave it half-written: it is never pooled again.</summary>
    public bool Broken { get; set; }

    public abstract Prediction Predict(float[] floats, string[] texts);

    /// <summary>Label, value and score alone: what a batch stores, without the per-row class dictionaries.</summary>
    public abstract CompactPrediction PredictCompact(float[] floats, string[] texts);

    /// <summary>Scores the rows of a chunk into <paramref name="into"/>; a backend that can runs them as one call.</summary>
    public virtual void PredictChunk(ReadOnlySpan<NormalizedInput> rows, Span<Prediction> into)
    {
        for (var i = 0; i < rows.Length; i++)
        {
            into[i] = Predict(rows[i].Floats, rows[i].Texts);
        }
    }

    /// <summary>As <see cref="PredictChunk"/>, compact.</summary>
    public virtual void PredictChunkCompact(ReadOnlySpan<NormalizedInput> rows, Span<CompactPrediction> into)
    {
        for (var i = 0; i < rows.Length; i++)
        {
            into[i] = PredictCompact(rows[i].Floats, rows[i].Texts);
        }
    }
}
