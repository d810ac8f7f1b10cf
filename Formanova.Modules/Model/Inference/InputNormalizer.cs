using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Formanova.Modules.Shared.Errors;

namespace Formanova.Modules.Model.Inference;

/// <summary>Prediction inputs checked against a version's schema and converted once, for the engine and the cache key alike.</summary>
internal readonly record struct NormalizedInput(float[] Floats, string[] Texts);

internal static class InputNormalizer
{
    [ThreadStatic]
    private static StringBuilder? _threadKey;

    /// <summary>
    /// One value into slot <paramref name="index"/> of <paramref name="into"/>, by the same rules for named and
    /// positional inputs; the reason names the column and its kind.
    /// </summary>
    public static bool TryConvert(
        in ColumnBinding binding,
        int index,
        object? value,
        NormalizedInput into,
        [NotNullWhen(false)] out string? reason)
    {
        var column = binding.Column;
        string? error;
        var ok = binding.IsFloat
            ? ValueConverter.TryFloat(column.Kind, value, out into.Floats[index], out error)
            : ValueConverter.TryText(column.Kind, value, out into.Texts[index], out error);
        reason = ok ? null : $"Column '{column.Name}' ({column.Kind.ToString().ToLowerInvariant()}): {error}.";
        return ok;
    }

    /// <summary>Converts the feature values of one input (every feature named, nothing else), or throws Invalid.</summary>
    public static NormalizedInput Normalize(ColumnBinding[] layout, IReadOnlyDictionary<string, object?>? inputs)
    {
        var errors = new Dictionary<string, string[]>();
        var input = new NormalizedInput(new float[layout.Length], new string[layout.Length]);
        List<string>? ignored = null;
        return CompiledContract.Create(layout, null).TryConvert(inputs, -1, strict: true, errors, input, ref ignored)
            ? input
            : throw new ModuleException(ErrorKind.Invalid, "The inputs do not match the model's schema.", errors);
    }

    /// <summary>
    /// The cache key: model, version, cache generation and the converted values (the exact bits the engine sees,
    /// strings length-prefixed so no two inputs can concatenate alike). Long keys are hashed.
    /// </summary>
    public static string CacheKey(string name, string version, long generation, ColumnBinding[] layout, NormalizedInput input)
    {
        // One builder per thread: the key is built on every cacheable request, and only the final string should allocate.
        var key = _threadKey ??= new StringBuilder(256);
        key.Clear();
        key.Append("model:").Append(name).Append(':').Append(version).Append(':').Append(generation).Append(':');
        for (var i = 0; i < layout.Length; i++)
        {
            if (layout[i].IsFloat)
            {
                var value = input.Floats[i];
                if (float.IsNaN(value))
                {
                    key.Append('n');
                }
                else
                {
                    key.Append(CultureInfo.InvariantCulture, $"{BitConverter.SingleToInt32Bits(value):x8}");
                }
            }
            else
            {
                var text = input.Texts[i];
                key.Append(text.Length).Append('"').Append(text);
            }

            key.Append('|');
        }

        if (key.Length <= 512)
        {
            return key.ToString();
        }

        var prefix = $"model:{name}:{version}:{generation}:#";
        return prefix + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(key.ToString())));
    }
}
