using System.ComponentModel.DataAnnotations;
using Microsoft.Extensions.Options;

namespace Formanova.Modules.Access;

/// <summary>The key-store part of the <c>Auth</c> section (the host reads <c>Auth:Enabled</c> and <c>Auth:BootstrapKey</c>).</summary>
internal sealed class AccessOptions
{
    public const string SectionName = "Auth";

    /// <summary>How long a verified key is trusted before the store is asked again (revocation delay).</summary>
    [Range(0, 3600)]
    public int CacheSeconds { get; set; } = 30;

    /// <summary>last_used_at is written at most this often per key, so authentication costs no write per request.</summary>
    [Range(1, 86_400)]
    public int LastUsedResolutionSeconds { get; set; } = 60;
}

[OptionsValidator]
internal sealed partial class AccessOptionsValidator : IValidateOptions<AccessOptions>;
