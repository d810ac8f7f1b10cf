using System.Security.Claims;
using System.Text.Encodings.Web;
using Formanova.Modules.Access;
using Formanova.Modules.Shared.Api;
using Microsoft.AspNetCore.Authentication;
using Microsoft.Extensions.Options;

namespace Formanova.Host.Security;

/// <summary>
/// Authenticates <c>Authorization: Bearer &lt;key&gt;</c> or <c>X-Api-Key: &lt;key&gt;</c> against the Access module.
/// Challenges and forbids answer ProblemDetails that say what was wrong, but never whether a key exists.
/// </summary>
internal sealed class ApiKeyAuthenticationHandler(
    IOptionsMonitor<AuthenticationSchemeOptions> options,
    ILoggerFactory logger,
    UrlEncoder encoder,
    IAccessModule access,
    IOptions<AuthOptions> auth,
    IProblemDetailsService problemDetails) : AuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
{
    public const string SchemeName = "ApiKey";
    public const string ScopeClaim = ApiScopes.ClaimType;

    // One ticket per verified key, for as long as the Access module's cache holds that key: building the principal
    // and its claims was a tenth of what a trivial authenticated request allocated. Nothing in the host mutates it.
    private static readonly System.Runtime.CompilerServices.ConditionalWeakTable<AuthenticatedKey, AuthenticationTicket> Tickets = new();

    protected override async Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        if (!auth.Value.Enabled)
        {
            return Success("auth-disabled", "authentication disabled", [ApiScopes.Admin]);
        }

        var presented = ReadKey(Request);
        if (presented is null)
        {
            return AuthenticateResult.NoResult();
        }

        var key = await access.AuthenticateAsync(presented, Context.RequestAborted);
        return key is null
            ? AuthenticateResult.Fail("The API key is invalid, revoked or expired.")
            : AuthenticateResult.Success(Tickets.GetValue(key, static k => Ticket(k.Id, k.Name, k.Scopes)));
    }

    protected override Task HandleChallengeAsync(AuthenticationProperties properties)
    {
        Response.Headers.WWWAuthenticate = "Bearer realm=\"formanova\"";
        var presented = ReadKey(Request) is not null;
        return WriteProblemAsync(StatusCodes.Status401Unauthorized, "Unauthorized", presented
            ? "The API key is invalid, revoked or expired."
            : "An API key is required: send 'Authorization: Bearer <key>' or 'X-Api-Key: <key>'.");
    }

    protected override Task HandleForbiddenAsync(AuthenticationProperties properties)
    {
        var scope = Context.GetEndpoint()?.Metadata.GetMetadata<ScopeRequirementMetadata>()?.Scope ?? "another";
        return WriteProblemAsync(
            StatusCodes.Status403Forbidden,
            "Forbidden",
            $"The API key lacks the '{scope}' scope that this endpoint requires.");
    }

    internal static string? ReadKey(HttpRequest request)
    {
        var authorization = request.Headers.Authorization.ToString();
        if (authorization.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase))
        {
            var token = authorization["Bearer ".Length..].Trim();
            return token.Length > 0 ? token : null;
        }

        var header = request.Headers["X-Api-Key"].ToString().Trim();
        return header.Length > 0 ? header : null;
    }

    private static AuthenticateResult Success(string id, string name, IEnumerable<string> scopes) =>
        AuthenticateResult.Success(Ticket(id, name, scopes));

    private static AuthenticationTicket Ticket(string id, string name, IEnumerable<string> scopes)
    {
        var granted = scopes.ToList();
        var claims = new List<Claim> { new(ClaimTypes.NameIdentifier, id), new(ClaimTypes.Name, name) };
        claims.AddRange(granted.Select(s => new Claim(ScopeClaim, s)));
        return new AuthenticationTicket(new ClaimsPrincipal(new ApiKeyIdentity(claims, SchemeName, granted)), SchemeName);
    }

    private async Task WriteProblemAsync(int status, string title, string detail)
    {
        Response.StatusCode = status;
        await problemDetails.TryWriteAsync(new ProblemDetailsContext
        {
            HttpContext = Context,
            ProblemDetails = { Status = status, Title = title, Detail = detail },
        });
    }
}

/// <summary>The scope the authorization convention settled on for an endpoint (for 403 messages and tests).</summary>
internal sealed record ScopeRequirementMetadata(string Scope);
