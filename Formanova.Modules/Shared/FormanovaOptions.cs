using System.ComponentModel.DataAnnotations;
using Microsoft.Extensions.Options;

namespace Formanova.Modules.Shared;

/// <summary>The <c>Formanova</c> configuration section: process-wide settings.</summary>
public sealed class FormanovaOptions
{
    public const string SectionName = "Formanova";

    /// <summary>Where embedded state (SQLite files, model artifacts) lives; relative to the working directory.</summary>
    [Required]
    public string DataDirectory { get; set; } = "data";

    public string ResolveDataDirectory()
    {
        var path = Path.GetFullPath(DataDirectory);
        Directory.CreateDirectory(path);
        return path;
    }
}

[OptionsValidator]
internal sealed partial class FormanovaOptionsValidator : IValidateOptions<FormanovaOptions>;
