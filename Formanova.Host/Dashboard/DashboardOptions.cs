using System.ComponentModel.DataAnnotations;
using Microsoft.Extensions.Options;

namespace Formanova.Host.Dashboard;

/// <summary>The <c>Dashboard</c> section: the browser dashboard at <c>/ui</c> (docs/dashboard.md).</summary>
internal sealed class DashboardOptions
{
    public const string SectionName = "Dashboard";

    /// <summary>False leaves <c>/ui</c> unmapped; the API is unaffected.</summary>
    public bool Enabled { get; set; } = true;

    /// <summary>How long a sign-in lasts: from the last request with a sliding expiry, from the sign-in without.</summary>
    [Range(1, 43_200)]
    public int SessionMinutes { get; set; } = 480;

    /// <summary>
    /// True: each request (after half the session has passed) renews the session for another
    /// <see cref="SessionMinutes"/>. False: the session ends <see cref="SessionMinutes"/> after the sign-in, however busy.
    /// </summary>
    public bool SlidingExpiration { get; set; } = true;

    /// <summary>
    /// A session carries its key's id, not the key: at most this often (per session) the store is asked whether the key is
    /// still there, unrevoked and unexpired, and the session ends when it is not. 0 asks on every request.
    /// </summary>
    [Range(0, 3600)]
    public int KeyRecheckSeconds { get; set; } = 30;

    /// <summary>
    /// <c>SameAsRequest</c>: the session and antiforgery cookies are Secure when the request came over HTTPS. <c>Always</c>:
    /// always Secure, for a host behind a proxy that terminates TLS and forwards plain HTTP.
    /// </summary>
    public DashboardCookieSecurity CookieSecure { get; set; } = DashboardCookieSecurity.SameAsRequest;

    /// <summary>How often a live page's data is read again while someone watches it.</summary>
    [Range(0.2, 60)]
    public double RefreshSeconds { get; set; } = 2;

    /// <summary>The largest file the dataset page's upload form takes; larger imports go through the API.</summary>
    [Range(1024, 1L << 34)]
    public long MaxUploadBytes { get; set; } = 100L << 20;

    /// <summary>The workflow timeline reads at most this many history events of a run.</summary>
    [Range(100, 1_000_000)]
    public int MaxHistoryEvents { get; set; } = 5000;
}

internal enum DashboardCookieSecurity
{
    SameAsRequest,
    Always,
}

[OptionsValidator]
internal sealed partial class DashboardOptionsValidator : IValidateOptions<DashboardOptions>;
