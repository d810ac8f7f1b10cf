using System.Collections.Frozen;
using System.Security.Cryptography;
using Microsoft.Net.Http.Headers;

namespace Formanova.Host.Dashboard.Assets;

/// <summary>
/// The dashboard's stylesheet and script, embedded in the host assembly and served from <c>/ui/assets</c>: nothing is
/// fetched from elsewhere, so the pages work offline. Pages link them with a content hash (<see cref="Url"/>), so a
/// browser may keep them for a year and still never runs a stale script after an upgrade.
/// </summary>
internal static class DashboardAssets
{
    private const string ResourcePrefix = "dashboard-assets/";

    private static readonly FrozenDictionary<string, Asset> Files = Load();

    public static string Url(string name) => $"{DashboardPaths.Assets}/{name}?v={Files[name].Version}";

    public static RouteHandlerBuilder MapDashboardAssets(this IEndpointRouteBuilder ui) =>
        ui.MapGet("/assets/{name}", (string name, HttpContext http) =>
        {
            if (!Files.TryGetValue(name, out var asset))
            {
                return Results.NotFound();
            }

            var headers = http.Response.Headers;
            headers.CacheControl = http.Request.Query["v"] == asset.Version ? "public, max-age=31536000, immutable" : "no-cache";
            headers.ETag = asset.ETag;
            return http.Request.Headers.IfNoneMatch == asset.ETag
                ? Results.StatusCode(StatusCodes.Status304NotModified)
                : Results.Bytes(asset.Bytes, asset.ContentType);
        }).AllowAnonymous();

    private static FrozenDictionary<string, Asset> Load()
    {
        var assembly = typeof(DashboardAssets).Assembly;
        var files = new Dictionary<string, Asset>(StringComparer.Ordinal);
        foreach (var resource in assembly.GetManifestResourceNames().Where(r => r.StartsWith(ResourcePrefix, StringComparison.Ordinal)))
        {
            using var stream = assembly.GetManifestResourceStream(resource)!;
            using var copy = new MemoryStream();
            stream.CopyTo(copy);
            var bytes = copy.ToArray();
            var version = Convert.ToHexStringLower(SHA256.HashData(bytes))[..16];
            var name = resource[ResourcePrefix.Length..];
            var type = Path.GetExtension(name) switch
            {
                ".css" => "text/css; charset=utf-8",
                ".js" => "text/javascript; charset=utf-8",
                ".svg" => "image/svg+xml",
                _ => "application/octet-stream",
            };
            files[name] = new Asset(bytes, type, new EntityTagHeaderValue($"\"{version}\"").ToString(), version);
        }

        return files.ToFrozenDictionary(StringComparer.Ordinal);
    }

    private sealed record Asset(byte[] Bytes, string ContentType, string ETag, string Version);
}
