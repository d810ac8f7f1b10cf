namespace Formanova.Host.Configuration;

internal static class SettingsExtensions
{
    /// <summary>
    /// The command line with settings-file watching off. The host reads its settings at start (options are validated
    /// then), and the framework's default watch covers the whole content root, which holds the data directory when it
    /// is relative: every SQLite write then woke a file-system watcher, on the request path's cores.
    /// </summary>
    public static string[] WithoutSettingsWatch(string[] args) => [.. args, "--hostBuilder:reloadConfigOnChange=false"];

    /// <summary>
    /// The settings files live at the repository's top level and are copied beside the binary. Loading them from
    /// there, at the lowest precedence, makes them apply whatever the working directory is, while files in the
    /// content root, user secrets, environment variables and the command line still override them.
    /// </summary>
    public static IConfigurationBuilder AddFormanovaSettings(this IConfigurationManager configuration, IHostEnvironment environment)
    {
        var sources = configuration.Sources;
        var baseDirectory = AppContext.BaseDirectory;
        sources.Insert(0, JsonSource(Path.Combine(baseDirectory, "appsettings.json")));
        sources.Insert(1, JsonSource(Path.Combine(baseDirectory, $"appsettings.{environment.EnvironmentName}.json")));
        return configuration;
    }

    private static Microsoft.Extensions.Configuration.Json.JsonConfigurationSource JsonSource(string path)
    {
        var source = new Microsoft.Extensions.Configuration.Json.JsonConfigurationSource
        {
            Path = Path.GetFileName(path),
            Optional = true,
            ReloadOnChange = false,
            FileProvider = new Microsoft.Extensions.FileProviders.PhysicalFileProvider(Path.GetDirectoryName(path)!),
        };
        return source;
    }
}
