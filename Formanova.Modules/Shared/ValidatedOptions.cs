using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Formanova.Modules.Shared;

/// <summary>
/// Binds an options class to its configuration section and validates it, nested members included, when the host
/// starts. The validator is an <c>[OptionsValidator]</c> class: the generator writes its checks
/// from the data annotations at build time, and recurses into every member marked
/// <c>[ValidateObjectMembers]</c> or <c>[ValidateEnumeratedItems]</c>, which <c>ValidateDataAnnotations</c> never
/// does. A failure names the setting by its path from the section (<c>Workflows.Retry.MaximumAttempts</c>).
/// </summary>
public static class ValidatedOptions
{
    public static OptionsBuilder<TOptions> AddValidatedOptions<TOptions, TValidator>(
        this IServiceCollection services,
        IConfiguration configuration,
        string sectionName)
        where TOptions : class
        where TValidator : class, IValidateOptions<TOptions>, new()
    {
        services.AddSingleton<IValidateOptions<TOptions>>(new SectionValidator<TOptions>(sectionName, new TValidator()));
        return services.AddOptions<TOptions>().Bind(configuration.GetSection(sectionName)).ValidateOnStart();
    }

    /// <summary>
    /// The generator names failures after the options name, or the class for the unnamed options; this names the section.
    /// </summary>
    private sealed class SectionValidator<TOptions>(string sectionName, IValidateOptions<TOptions> generated) : IValidateOptions<TOptions>
        where TOptions : class
    {
        public ValidateOptionsResult Validate(string? name, TOptions options) =>
            generated.Validate(string.IsNullOrEmpty(name) ? sectionName : name, options);
    }
}
