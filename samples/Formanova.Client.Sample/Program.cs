using Formanova.Client;
using Formanova.Client.Sample;

// dotnet run --project samples/Formanova.Client.Sample -- [base URL] [API key]; defaults: FORMANOVA_URL, FORMANOVA_API_KEY.
var baseUrl = args.Length > 0 ? args[0] : Environment.GetEnvironmentVariable("FORMANOVA_URL") ?? "http://localhost:5000";
var apiKey = args.Length > 1 ? args[1] : Environment.GetEnvironmentVariable("FORMANOVA_API_KEY");
if (string.IsNullOrWhiteSpace(apiKey))
{
    Console.Error.WriteLine("Give an API key with write scope: the second argument or FORMANOVA_API_KEY (docs/client.md).");
    return 2;
}

using var cancel = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) =>
{
    e.Cancel = true;
    cancel.Cancel();
};
using var client = new FormanovaClient(new Uri(baseUrl), apiKey);
try
{
    await SampleFlow.RunAsync(client, Console.Out, cancel.Token);
    return 0;
}
catch (FormanovaApiException e)
{
    Console.Error.WriteLine($"{e.Message} (trace {e.TraceId})");
    return 1;
}
catch (HttpRequestException e)
{
    Console.Error.WriteLine($"Cannot reach {baseUrl}: {e.Message}");
    return 1;
}
