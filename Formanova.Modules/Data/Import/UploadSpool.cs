using Formanova.Modules.Shared;
using Microsoft.Extensions.Options;

namespace Formanova.Modules.Data.Import;

/// <summary>
/// Copies an upload to a temporary file under the data directory, for formats whose readers need to seek: a Parquet
/// file's schema and row group index sit in a footer at its end, and an Arrow IPC file's too. The copy is read
/// through the caller's <see cref="LimitedReadStream"/>, so the upload limits hold while it is written, and the file
/// is deleted when the returned stream is disposed.
/// </summary>
internal sealed class UploadSpool(IOptions<FormanovaOptions> formanova)
{
    private static readonly TimeSpan StaleAfter = TimeSpan.FromHours(6);
    private int _swept;

    public string Directory => Path.Combine(formanova.Value.ResolveDataDirectory(), "upload-spool");

    public async Task<FileStream> SpoolAsync(Stream upload, CancellationToken cancellationToken)
    {
        var directory = Directory;
        System.IO.Directory.CreateDirectory(directory);
        if (Interlocked.Exchange(ref _swept, 1) == 0)
        {
            SweepStale(directory);
        }

        var path = Path.Combine(directory, $"{Guid.NewGuid():N}.part");
        var file = new FileStream(
            path,
            FileMode.CreateNew,
            FileAccess.ReadWrite,
            FileShare.None,
            64 * 1024,
            FileOptions.Asynchronous | FileOptions.DeleteOnClose);
        try
        {
            await upload.CopyToAsync(file, 64 * 1024, cancellationToken);
            await file.FlushAsync(cancellationToken);
            file.Position = 0;
            return file;
        }
        catch
        {
            await file.DisposeAsync();
            throw;
        }
    }

    /// <summary>A process that died mid-import never closed its copy; the first import after a restart removes those.</summary>
    private static void SweepStale(string directory)
    {
        foreach (var stale in new DirectoryInfo(directory).EnumerateFiles("*.part"))
        {
            try
            {
                if (DateTime.UtcNow - stale.LastWriteTimeUtc > StaleAfter)
                {
                    stale.Delete();
                }
            }
            catch (IOException)
            {
                // In use or gone already: the next start tries again.
            }
        }
    }
}
