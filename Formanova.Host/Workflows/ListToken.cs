using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;
using Formanova.Modules.Shared.Errors;

namespace Formanova.Host.Workflows;

/// <summary>
/// The opaque <c>pageToken</c> of a listing: base64url of a hash of the visibility query followed by Temporal's
/// next_page_token. The hash rejects a token garbled in transit or reused with other filters with a 400 naming
/// <c>pageToken</c>, before the server sees it.
/// </summary>
internal static class ListToken
{
    private const int HashLength = 8;

    public static string? Encode(string query, byte[]? serverToken)
    {
        if (serverToken is not { Length: > 0 })
        {
            return null;
        }

        var bytes = new byte[HashLength + serverToken.Length];
        QueryHash(query).CopyTo(bytes, 0);
        serverToken.CopyTo(bytes, HashLength);
        return Base64Url.EncodeToString(bytes);
    }

    /// <summary>Temporal's token, or null for the first page.</summary>
    public static byte[]? Decode(string query, string? pageToken)
    {
        if (pageToken is null)
        {
            return null;
        }

        byte[] bytes;
        try
        {
            bytes = Base64Url.DecodeFromChars(pageToken);
        }
        catch (FormatException)
        {
            throw Invalid();
        }

        if (bytes.Length <= HashLength || !bytes.AsSpan(0, HashLength).SequenceEqual(QueryHash(query)))
        {
            throw Invalid();
        }

        return bytes[HashLength..];
    }

    public static ModuleException Invalid() =>
        ModuleException.Invalid(
            "pageToken",
            "pageToken is not a token this listing issued: pass the nextPageToken of the previous page, with the same filters.");

    private static byte[] QueryHash(string query) => SHA256.HashData(Encoding.UTF8.GetBytes(query))[..HashLength];
}
