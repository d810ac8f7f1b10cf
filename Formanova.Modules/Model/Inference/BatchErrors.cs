using Formanova.Modules.Shared.Errors;

namespace Formanova.Modules.Model.Inference;

/// <summary>
/// The invalid rows of a batch, collected from the chunks that check them in parallel and reported in row order:
/// every error of the first rows, up to the row that brings the count to <see cref="MaxErrors"/>.
/// </summary>
internal sealed class BatchErrors
{
    public const int MaxErrors = 50;

    private readonly List<(int Row, KeyValuePair<string, string[]>[] Errors)> _rows = [];
    private volatile bool _any;
    private int _count;

    /// <summary>True once any row failed: chunks stop predicting, since the batch will be rejected.</summary>
    public bool Any => _any;

    /// <summary>True once enough errors are in for a report (a serial pass can stop there).</summary>
    public bool Full => Volatile.Read(ref _count) >= MaxErrors;

    /// <summary>Takes the row's errors out of the caller's scratch dictionary, which is left empty for the next row.</summary>
    public void Add(int row, Dictionary<string, string[]> scratch)
    {
        var errors = scratch.ToArray();
        scratch.Clear();
        lock (_rows)
        {
            _rows.Add((row, errors));
            _count += errors.Length;
        }

        _any = true;
    }

    public void ThrowIfAny()
    {
        if (!_any)
        {
            return;
        }

        var errors = new Dictionary<string, string[]>();
        foreach (var (_, rowErrors) in _rows.OrderBy(r => r.Row))
        {
            if (errors.Count >= MaxErrors)
            {
                break;
            }

            foreach (var (field, reasons) in rowErrors)
            {
                errors[field] = reasons;
            }
        }

        throw new ModuleException(ErrorKind.Invalid, "Some rows do not match the model's schema.", errors);
    }
}

/// <summary>A batch chunk's reusable buffers: one row's converted values and its errors.</summary>
internal sealed class RowScratch(int width)
{
    public NormalizedInput Input { get; } = new(new float[width], new string[width]);

    public Dictionary<string, string[]> Errors { get; } = [];
}

/// <summary>
/// The rows of a chunk gathered for one scoring call: row k of the call is batch row <see cref="Indexes"/>[k],
/// converted in <see cref="Rows"/>[k]; <see cref="Full"/> and <see cref="Compact"/> take the answers.
/// </summary>
internal sealed class ChunkScratch
{
    public ChunkScratch(int size, int width)
    {
        Rows = [.. Enumerable.Range(0, size).Select(_ => new RowScratch(width))];
        Inputs = [.. Rows.Select(r => r.Input)];
        Indexes = new int[size];
        Full = new Prediction[size];
        Compact = new CompactPrediction[size];
    }

    public RowScratch[] Rows { get; }

    public NormalizedInput[] Inputs { get; }

    public int[] Indexes { get; }

    public Prediction[] Full { get; }

    public CompactPrediction[] Compact { get; }

    public int Count { get; private set; }

    /// <summary>Keeps the row just converted into <c>Rows[Count]</c> as batch row <paramref name="index"/>.</summary>
    public void Add(int index) => Indexes[Count++] = index;

    public void Clear() => Count = 0;
}
