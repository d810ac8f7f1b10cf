// The plain baseline of the shipped-host suite (bench/scripts/shipped.sh): Kestrel with default settings and nothing
// else, answering POST / and GET / with constant JSON. It reads the request body, as the predict path must, so that
// the ratio compares against the least a JSON endpoint can do rather than against a server that skips the body.
var builder = WebApplication.CreateSlimBuilder(args);
builder.Logging.ClearProviders();
var app = builder.Build();
var body = """{"model":"demo-churn","version":"1.0.0","label":"false","score":-2.5,"probability":0.07,"cached":false}"""u8.ToArray();

app.MapPost("/", async (HttpContext http) =>
{
    // Drain the body, as any handler that reads its input must.
    while (true)
    {
        var read = await http.Request.BodyReader.ReadAsync();
        http.Request.BodyReader.AdvanceTo(read.Buffer.End);
        if (read.IsCompleted)
        {
            break;
        }
    }

    http.Response.ContentType = "application/json";
    await http.Response.Body.WriteAsync(body);
});
app.MapGet("/", async (HttpContext http) =>
{
    http.Response.ContentType = "application/json";
    await http.Response.Body.WriteAsync(body);
});

app.Run();
