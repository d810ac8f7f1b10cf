using Formanova.Host.Api;
using Formanova.Host.Configuration;
using Formanova.Host.Telemetry;
using Formanova.Modules.Data;
using Formanova.Modules.Event;
using Formanova.Modules.Model;
using Formanova.Modules.Shared;

var builder = WebApplication.CreateBuilder(args);
builder.Configuration.AddFormanovaSettings(builder.Environment);

builder.Services.AddFormanovaInfrastructure(builder.Configuration);
builder.Services.AddModelModule(builder.Configuration);
builder.Services.AddDataModule(builder.Configuration);
builder.Services.AddEventModule(builder.Configuration);
builder.Services.AddFormanovaApi(builder.Configuration);
builder.Services.AddFormanovaTelemetry(builder.Configuration);

var app = builder.Build();

app.UseFormanovaApi();
app.MapHealthEndpoints();
app.MapMetricsEndpoint();
app.MapApiDocs();

var api = app.MapGroup("/api/v1");
api.MapModelEndpoints();
api.MapDataEndpoints();
api.MapEventEndpoints();

app.Run();

public partial class Program;
