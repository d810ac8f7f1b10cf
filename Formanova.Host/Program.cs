using Formanova.Host.Api;
using Formanova.Host.Api.OpenApi;
using Formanova.Host.Configuration;
using Formanova.Host.Dashboard;
using Formanova.Host.Feedback;
using Formanova.Host.Monitoring;
using Formanova.Host.Security;
using Formanova.Host.Telemetry;
using Formanova.Host.Temporal;
using Formanova.Host.Workflows;
using Formanova.Modules.Access;
using Formanova.Modules.Data;
using Formanova.Modules.Event;
using Formanova.Modules.Model;
using Formanova.Modules.Shared;
using Formanova.Modules.Shared.Api;

var builder = WebApplication.CreateBuilder(SettingsExtensions.WithoutSettingsWatch(args));
builder.Configuration.AddFormanovaSettings(builder.Environment);

builder.Services.AddFormanovaInfrastructure(builder.Configuration);
builder.Services.AddAccessModule(builder.Configuration);
builder.Services.AddModelModule(builder.Configuration);
builder.Services.AddDataModule(builder.Configuration);
builder.Services.AddEventModule(builder.Configuration);
builder.Services.AddPredictionLog(builder.Configuration);
builder.Services.AddModelMonitoring(builder.Configuration);
builder.Services.AddFormanovaApi(builder.Configuration);
builder.Services.AddFormanovaOpenApi();
builder.Services.AddFormanovaTelemetry(builder.Configuration);
builder.Services.AddFormanovaSecurity(builder.Configuration);
builder.Services.AddFormanovaTemporal(builder.Configuration);
builder.Services.AddFormanovaDashboard(builder.Configuration);

var app = builder.Build();

app.UseFormanovaApi();
app.UseFormanovaSecurity();
app.MapHealthEndpoints().ApplyProbePolicy(app.Configuration);
app.MapMetricsEndpoint().ApplyProbePolicy(app.Configuration);
app.MapApiDocs();

var api = app.MapGroup("/api/v1").RequireApiScopes().WithApiConventions();
api.MapAccessEndpoints();
api.MapModelEndpoints();
api.MapDataEndpoints();
api.MapEventEndpoints();
api.MapWorkflowEndpoints(app.Configuration);
api.MapFeedbackEndpoints();

app.MapFormanovaDashboard();

app.Run();

public partial class Program;
