using Microsoft.ML;
using Microsoft.ML.Transforms;

namespace Formanova.Modules.Model.Training;

/// <summary>Builds the featurisation and trainer chain from a schema.</summary>
internal static class PipelineFactory
{
    public static IEstimator<ITransformer> Build(MLContext ml, ModelSchema schema, TrainerSpec trainer)
    {
        var steps = new List<IEstimator<ITransformer>>();
        foreach (var column in schema.Features)
        {
            // Each transform writes over its own input: the column names stay the user's, and nothing else can clash.
            steps.Add(column.Kind switch
            {
                ColumnKind.Numeric or ColumnKind.Boolean => ml.Transforms
                    .ReplaceMissingValues(column.Name, column.Name, MissingValueReplacingEstimator.ReplacementMode.Mean),
                ColumnKind.Categorical => ml.Transforms.Categorical.OneHotEncoding(column.Name, column.Name),
                _ => ml.Transforms.Text.FeaturizeText(column.Name, column.Name),
            });
        }

        steps.Add(ml.Transforms.Concatenate("Features", [.. schema.Features.Select(c => c.Name)]));
        if (trainer.IsLinear)
        {
            steps.Add(ml.Transforms.NormalizeMinMax("Features"));
        }

        IEstimator<ITransformer> chain = steps[0];
        foreach (var step in steps.Skip(1))
        {
            chain = chain.Append(step);
        }

        if (trainer.IsLinear)
        {
            // SDCA and L-BFGS read the data many times; caching the featurised rows beats recomputing them.
            chain = chain.AppendCacheCheckpoint(ml);
        }

        // Multiclass class names come back through the Score column's slot names, so no key-to-value step is needed.
        return chain.Append(trainer.Create(ml));
    }
}
