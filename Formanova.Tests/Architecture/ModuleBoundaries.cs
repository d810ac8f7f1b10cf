using System.Reflection;
using System.Reflection.Emit;

namespace Formanova.Tests.Architecture;

/// <summary>
/// Finds every place where a type of one module refers to a type of another module, or to Temporalio: in its
/// signatures (base types, fields, properties, parameters, return types, attributes) and in the IL of its
/// method bodies, so a call hidden inside a method body is caught as well as an injected dependency.
/// </summary>
internal static class ModuleBoundaries
{
    private static readonly Dictionary<short, OpCode> OpCodesByValue = typeof(OpCodes)
        .GetFields(BindingFlags.Public | BindingFlags.Static)
        .Select(f => (OpCode)f.GetValue(null)!)
        .ToDictionary(o => o.Value);

    private const BindingFlags Everything = BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Instance | BindingFlags.Static
        | BindingFlags.DeclaredOnly;

    public static IReadOnlyList<string> FindViolations(Assembly assembly, string root, IReadOnlyCollection<string> modules)
    {
        var violations = new SortedSet<string>(StringComparer.Ordinal);
        foreach (var type in assembly.GetTypes())
        {
            var owner = ModuleOf(type.Namespace, root, modules);
            if (owner is null)
            {
                continue;
            }

            foreach (var referenced in ReferencedTypes(type).SelectMany(Flatten))
            {
                var target = ModuleOf(referenced.Namespace, root, modules);
                if (target is not null && target != owner)
                {
                    violations.Add($"{owner}: {type.FullName} uses {referenced.FullName} of module {target}");
                }

                if (referenced.Assembly.GetName().Name?.StartsWith("Temporalio", StringComparison.Ordinal) == true)
                {
                    violations.Add($"{owner}: {type.FullName} uses Temporalio type {referenced.FullName}");
                }
            }
        }

        return [.. violations];
    }

    private static string? ModuleOf(string? ns, string root, IReadOnlyCollection<string> modules) =>
        ns is null ? null : modules.FirstOrDefault(m => ns == $"{root}.{m}" || ns.StartsWith($"{root}.{m}.", StringComparison.Ordinal));

    private static IEnumerable<Type> ReferencedTypes(Type type)
    {
        if (type.BaseType is not null)
        {
            yield return type.BaseType;
        }

        foreach (var i in type.GetInterfaces())
        {
            yield return i;
        }

        foreach (var attribute in type.GetCustomAttributesData())
        {
            yield return attribute.AttributeType;
        }

        foreach (var field in type.GetFields(Everything))
        {
            yield return field.FieldType;
        }

        foreach (var property in type.GetProperties(Everything))
        {
            yield return property.PropertyType;
        }

        foreach (var method in type.GetMethods(Everything).Cast<MethodBase>().Concat(type.GetConstructors(Everything)))
        {
            if (method is MethodInfo info)
            {
                yield return info.ReturnType;
            }

            foreach (var parameter in method.GetParameters())
            {
                yield return parameter.ParameterType;
            }

            foreach (var usedInBody in TypesInBody(method))
            {
                yield return usedInBody;
            }
        }
    }

    private static IEnumerable<Type> TypesInBody(MethodBase method)
    {
        var body = method.GetMethodBody();
        var il = body?.GetILAsByteArray();
        if (il is null)
        {
            return [];
        }

        var found = new List<Type>();
        foreach (var local in body!.LocalVariables)
        {
            found.Add(local.LocalType);
        }

        var position = 0;
        while (position < il.Length)
        {
            short value = il[position++];
            if (value == 0xFE)
            {
                value = (short)(0xFE00 | il[position++]);
            }

            var opCode = OpCodesByValue[value];
            switch (opCode.OperandType)
            {
                case OperandType.InlineField or OperandType.InlineMethod or OperandType.InlineTok or OperandType.InlineType:
                    var token = BitConverter.ToInt32(il, position);
                    position += 4;
                    var member = Resolve(method, token);
                    if (member is Type t)
                    {
                        found.Add(t);
                    }
                    else if (member?.DeclaringType is { } declaring)
                    {
                        found.Add(declaring);
                        if (member is MethodInfo m)
                        {
                            found.Add(m.ReturnType);
                            found.AddRange(m.GetGenericArguments());
                        }
                    }

                    break;
                case OperandType.InlineSwitch:
                    position += 4 + (4 * BitConverter.ToInt32(il, position));
                    break;
                default:
                    position += OperandSize(opCode.OperandType);
                    break;
            }
        }

        return found;
    }

    private static MemberInfo? Resolve(MethodBase method, int token)
    {
        try
        {
            var typeArguments = method.DeclaringType is { IsGenericType: true } d ? d.GetGenericArguments() : null;
            var methodArguments = method.IsGenericMethod ? method.GetGenericArguments() : null;
            return method.Module.ResolveMember(token, typeArguments, methodArguments);
        }
        catch (ArgumentException)
        {
            return null;
        }
    }

    private static int OperandSize(OperandType operand) => operand switch
    {
        OperandType.InlineNone => 0,
        OperandType.ShortInlineBrTarget or OperandType.ShortInlineI or OperandType.ShortInlineVar => 1,
        OperandType.InlineVar => 2,
        OperandType.InlineI8 or OperandType.InlineR => 8,
        _ => 4,
    };

    private static IEnumerable<Type> Flatten(Type type)
    {
        if (type.HasElementType)
        {
            foreach (var inner in Flatten(type.GetElementType()!))
            {
                yield return inner;
            }

            yield break;
        }

        if (type.IsGenericParameter)
        {
            yield break;
        }

        yield return type;
        if (type.IsGenericType)
        {
            foreach (var inner in type.GetGenericArguments().SelectMany(Flatten))
            {
                yield return inner;
            }
        }
    }
}
