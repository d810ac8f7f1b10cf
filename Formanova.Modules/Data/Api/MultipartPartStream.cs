using Formanova.Modules.Shared.Errors;

namespace Formanova.Modules.Data.Api;

/// <summary>
/// A file part of a multipart upload, read by the import long after the endpoint found it. The multipart reader
/// reports a body that stops before its closing boundary as an <see cref="IOException"/> from that later read
/// (and a broken part header as <see cref="InvalidDataException"/>);
/// that is the client's malformed request (a 400), not a server fault.
/// </summary>
internal sealed class MultipartPartStream(Stream part) : Stream
{
    public override bool CanRead => true;

    public override bool CanSeek => false;

    public override bool CanWrite => false;

    public override long Length => throw new NotSupportedException();

    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    public override int Read(byte[] buffer, int offset, int count)
    {
        try
        {
            return part.Read(buffer, offset, count);
        }
        catch (Exception ex) when (ex is IOException or InvalidDataException)
        {
            throw Malformed(ex);
        }
    }

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        try
        {
            return await part.ReadAsync(buffer, cancellationToken);
        }
        catch (Exception ex) when (ex is IOException or InvalidDataException)
        {
            throw Malformed(ex);
        }
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public static ModuleException Malformed(Exception inner) => new(
        ErrorKind.Invalid,
        "The multipart body is malformed: it ends before the closing boundary of its file part, or a part is broken.",
        new Dictionary<string, string[]> { ["content"] = ["The multipart body ends early or is malformed."] },
        inner);

    public override void Flush()
    {
    }

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
}
