using System.Reflection;
using System.Text.RegularExpressions;

namespace Formanova.Modules.Shared.Database;

/// <summary>One numbered SQL script of one module. <see cref="Sql"/> is keyed by dialect file suffix, or "" for both.</summary>
internal sealed record Migration(int Version, string Name, IReadOnlyDictionary<string, string> Sql)
{
    public string? ScriptFor(SqlDialect dialect) =>
        Sql.TryGetValue(dialect.FileSuffix, out var specific) ? specific : Sql.TryGetValue("", out var common) ? common : null;
}

/// <summary>The migrations a module owns; each module keeps its own version sequence.</summary>
internal sealed partial record MigrationSet(string Module, IReadOnlyList<Migration> Migrations)
{
    /// <summary>
    /// Loads <c>{folder}/NNNN_name.sql</c> (or <c>NNNN_name.postgres.sql</c> / <c>NNNN_name.sqlite.sql</c>) embedded in
    /// <paramref name="assembly"/> under the logical name <c>migrations/{folder}/…</c>.
    /// </summary>
    public static MigrationSet FromEmbeddedResources(string module, Assembly assembly, string folder)
    {
        var prefix = $"migrations/{folder.Trim('/')}/";
        var byVersion = new SortedDictionary<int, (string Name, Dictionary<string, string> Sql)>();
        // RecursiveDir carries the OS separator into the logical name; compare with forward slashes.
        foreach (var resource in assembly.GetManifestResourceNames()
            .Where(n => n.Replace('\\', '/').StartsWith(prefix, StringComparison.Ordinal)))
        {
            var fileName = resource[prefix.Length..];
            var match = FileNamePattern().Match(fileName);
            if (!match.Success)
            {
                throw new InvalidOperationException($"Migration '{resource}' must be named NNNN_name[.postgres|.sqlite].sql.");
            }

            var version = int.Parse(match.Groups["version"].Value, System.Globalization.CultureInfo.InvariantCulture);
            var suffix = match.Groups["dialect"].Success ? $".{match.Groups["dialect"].Value}.sql" : "";
            using var stream = assembly.GetManifestResourceStream(resource)!;
            using var reader = new StreamReader(stream);
            var sql = reader.ReadToEnd();

            if (!byVersion.TryGetValue(version, out var entry))
            {
                entry = (match.Groups["name"].Value, new Dictionary<string, string>());
                byVersion[version] = entry;
            }
            else if (entry.Name != match.Groups["name"].Value)
            {
                throw new InvalidOperationException($"Module '{module}' has two migrations numbered {version}.");
            }

            entry.Sql[suffix] = sql;
        }

        return new MigrationSet(module, byVersion.Select(kv => new Migration(kv.Key, kv.Value.Name, kv.Value.Sql)).ToList());
    }

    [GeneratedRegex(@"^(?<version>\d{4})_(?<name>[a-z0-9_]+?)(\.(?<dialect>postgres|sqlite))?\.sql$")]
    private static partial Regex FileNamePattern();
}
