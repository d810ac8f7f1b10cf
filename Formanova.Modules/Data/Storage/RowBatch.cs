using System.Buffers;
using System.Collections.Concurrent;

namespace Formanova.Modules.Data.Storage;

/// <summary>
/// Encodes rows into batches that are due at Data:Import:CommitRows rows or <see cref="ImportStaging.CommitBytes"/>.
/// Every row in a batch outlives the collector's young generation before it is written, and with a new array per
/// row payload (and a new row list per batch) a 500,000-row import ran about ten times the generation-1 collections
/// it ran when its rows were written as they came. So payloads are copied into 64 KiB blocks, and a written batch comes back through
/// <see cref="Return"/> with its blocks and list to be filled again.
/// </summary>
internal sealed class RowBatch(int maxRows)
{
    private readonly ArrayBufferWriter<byte> _scratch = new(1024);
    private readonly ConcurrentQueue<EncodedBatch> _spare = new();
    private EncodedBatch _current = new(Math.Min(maxRows, 4096));

    public int Count => _current.Rows.Count;

    public bool IsFull => _current.Rows.Count >= maxRows || _current.Bytes >= ImportStaging.CommitBytes;

    public void Add(long row, long? entityHash, object?[] values)
    {
        RowCodec.EncodeInto(values, _scratch);
        _current.Add(row, entityHash, _scratch.WrittenSpan);
    }

    /// <summary>The rows collected so far; the batch starts empty again.</summary>
    public EncodedBatch Take()
    {
        var taken = _current;
        _current = _spare.TryDequeue(out var spare) ? spare : new EncodedBatch(Math.Min(maxRows, 4096));
        return taken;
    }

    /// <summary>Hands back a batch <see cref="Take"/> gave once its rows are written (from any thread).</summary>
    public void Return(EncodedBatch written)
    {
        written.Clear();
        _spare.Enqueue(written);
    }
}

/// <summary>Rows of one batch, their payloads packed in reusable blocks.</summary>
internal sealed class EncodedBatch(int capacity)
{
    private const int BlockBytes = 64 * 1024;
    private readonly List<byte[]> _blocks = [];
    private int _block;
    private int _used;

    public List<EncodedRow> Rows { get; } = new(capacity);

    public long Bytes { get; private set; }

    public void Add(long row, long? entityHash, ReadOnlySpan<byte> payload)
    {
        ReadOnlyMemory<byte> stored;
        if (payload.Length > BlockBytes)
        {
            stored = payload.ToArray();
        }
        else
        {
            if (_blocks.Count == 0 || _used + payload.Length > BlockBytes)
            {
                _block += _blocks.Count == 0 ? 0 : 1;
                _used = 0;
                if (_block == _blocks.Count)
                {
                    _blocks.Add(new byte[BlockBytes]);
                }
            }

            payload.CopyTo(_blocks[_block].AsSpan(_used));
            stored = new ReadOnlyMemory<byte>(_blocks[_block], _used, payload.Length);
            _used += payload.Length;
        }

        Rows.Add(new EncodedRow(row, entityHash, stored));
        Bytes += payload.Length;
    }

    public void Clear()
    {
        Rows.Clear();
        _block = 0;
        _used = 0;
        Bytes = 0;
    }
}
