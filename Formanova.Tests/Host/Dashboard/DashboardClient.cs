using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.RegularExpressions;
using Formanova.Host.Dashboard;
using Formanova.Tests.Support;
using Microsoft.AspNetCore.Mvc.Testing;

namespace Formanova.Tests.Host.Dashboard;

/// <summary>
/// A browser's part in the dashboard's forms, over HTTP: a client that keeps cookies and sends no API key, a sign-in
/// through the form, and form posts that carry the antiforgery token of the page they came from.
/// </summary>
internal static partial class DashboardClient
{
    /// <summary>A client with a cookie jar and no key (the factory's default client sends the admin key).</summary>
    public static HttpClient Anonymous(FormanovaFactory factory, string baseAddress = "http://localhost")
    {
        var client = factory.CreateClient(new WebApplicationFactoryClientOptions
        {
            AllowAutoRedirect = false,
            HandleCookies = true,
            BaseAddress = new Uri(baseAddress),
        });
        client.DefaultRequestHeaders.Authorization = null;
        return client;
    }

    /// <summary>A client signed in with <paramref name="key"/> through the sign-in form.</summary>
    public static async Task<HttpClient> SignedInAsync(FormanovaFactory factory, string key, string baseAddress = "http://localhost")
    {
        var client = Anonymous(factory, baseAddress);
        var response = await SignInAsync(client, key);
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.Redirect), await response.Content.ReadAsStringAsync());
        return client;
    }

    /// <summary>Creates an API key through the API with the admin key and returns its secret.</summary>
    public static async Task<string> CreateKeyAsync(FormanovaFactory factory, string name, params string[] scopes)
    {
        using var admin = factory.CreateClient();
        var response = await admin.PostAsJsonAsync("/api/v1/keys", new { name, scopes });
        response.EnsureSuccessStatusCode();
        return (await response.Content.ReadFromJsonAsync<System.Text.Json.JsonElement>()).GetProperty("secret").GetString()!;
    }

    /// <summary>Opens the sign-in form and posts <paramref name="key"/> with its token.</summary>
    public static Task<HttpResponseMessage> SignInAsync(HttpClient client, string key, string? returnUrl = null) =>
        PostFormAsync(client, DashboardPaths.SignIn, DashboardPaths.SignIn, new() { ["key"] = key, ["returnUrl"] = returnUrl ?? "" });

    /// <summary>
    /// Posts <paramref name="fields"/> to <paramref name="action"/> with the antiforgery token of the page at <paramref name="page"/>.
    /// </summary>
    public static async Task<HttpResponseMessage> PostFormAsync(
        HttpClient client,
        string page,
        string action,
        Dictionary<string, string>? fields = null)
    {
        var form = new Dictionary<string, string>(fields ?? []) { [DashboardPaths.TokenField] = await TokenAsync(client, page) };
        using var content = new FormUrlEncodedContent(form);
        return await client.PostAsync(action, content);
    }

    /// <summary>The antiforgery token a page gives this client's session.</summary>
    public static async Task<string> TokenAsync(HttpClient client, string page)
    {
        var html = await client.GetStringAsync(page);
        var match = TokenInput().Match(html);
        Assert.That(match.Success, Is.True, $"{page} has no antiforgery token:\n{html}");
        return WebUtility.HtmlDecode(match.Groups[1].Value);
    }

    /// <summary>The HTML of the next <c>fragment</c> event, within 30 s.</summary>
    public static async Task<string> FragmentAsync(StreamReader reader)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var html = new StringBuilder();
        var inFragment = false;
        while (await reader.ReadLineAsync(timeout.Token) is { } line)
        {
            if (line == "event: fragment")
            {
                inFragment = true;
            }
            else if (inFragment && line.StartsWith("data: ", StringComparison.Ordinal))
            {
                html.Append(line["data: ".Length..]).Append('\n');
            }
            else if (inFragment && line.Length == 0)
            {
                return html.ToString();
            }
        }

        Assert.Fail("the stream ended");
        return "";
    }

    [GeneratedRegex("name=\"__RequestVerificationToken\" value=\"([^\"]+)\"")]
    private static partial Regex TokenInput();
}
