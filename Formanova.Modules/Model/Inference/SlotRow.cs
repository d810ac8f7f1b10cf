// The slot fields are written out by a short script (64 floats, 32 strings): ML.NET binds fields, not arrays.
#pragma warning disable CA1051, SA1401
namespace Formanova.Modules.Model;

/// <summary>
/// The input row of every prediction engine. ML.NET wants a compile-time row type; a schema known only at run time
/// is mapped onto these numbered slots with a SchemaDefinition (slot i carries the i-th numeric or boolean column,
/// or the i-th categorical or text column), so the engine reads plain fields exactly as with a hand-written class.
/// </summary>
internal sealed class SlotRow
{
    public const int FloatSlots = 64;

    public const int TextSlots = 32;
    public float F0;
    public float F1;
    public float F2;
    public float F3;
    public float F4;
    public float F5;
    public float F6;
    public float F7;
    public float F8;
    public float F9;
    public float F10;
    public float F11;
    public float F12;
    public float F13;
    public float F14;
    public float F15;
    public float F16;
    public float F17;
    public float F18;
    public float F19;
    public float F20;
    public float F21;
    public float F22;
    public float F23;
    public float F24;
    public float F25;
    public float F26;
    public float F27;
    public float F28;
    public float F29;
    public float F30;
    public float F31;
    public float F32;
    public float F33;
    public float F34;
    public float F35;
    public float F36;
    public float F37;
    public float F38;
    public float F39;
    public float F40;
    public float F41;
    public float F42;
    public float F43;
    public float F44;
    public float F45;
    public float F46;
    public float F47;
    public float F48;
    public float F49;
    public float F50;
    public float F51;
    public float F52;
    public float F53;
    public float F54;
    public float F55;
    public float F56;
    public float F57;
    public float F58;
    public float F59;
    public float F60;
    public float F61;
    public float F62;
    public float F63;
    public string? T0;
    public string? T1;
    public string? T2;
    public string? T3;
    public string? T4;
    public string? T5;
    public string? T6;
    public string? T7;
    public string? T8;
    public string? T9;
    public string? T10;
    public string? T11;
    public string? T12;
    public string? T13;
    public string? T14;
    public string? T15;
    public string? T16;
    public string? T17;
    public string? T18;
    public string? T19;
    public string? T20;
    public string? T21;
    public string? T22;
    public string? T23;
    public string? T24;
    public string? T25;
    public string? T26;
    public string? T27;
    public string? T28;
    public string? T29;
    public string? T30;
    public string? T31;

    public ref float Float(int slot)
    {
        switch (slot)
        {
            case 0:
                return ref F0;
            case 1:
                return ref F1;
            case 2:
                return ref F2;
            case 3:
                return ref F3;
            case 4:
                return ref F4;
            case 5:
                return ref F5;
            case 6:
                return ref F6;
            case 7:
                return ref F7;
            case 8:
                return ref F8;
            case 9:
                return ref F9;
            case 10:
                return ref F10;
            case 11:
                return ref F11;
            case 12:
                return ref F12;
            case 13:
                return ref F13;
            case 14:
                return ref F14;
            case 15:
                return ref F15;
            case 16:
                return ref F16;
            case 17:
                return ref F17;
            case 18:
                return ref F18;
            case 19:
                return ref F19;
            case 20:
                return ref F20;
            case 21:
                return ref F21;
            case 22:
                return ref F22;
            case 23:
                return ref F23;
            case 24:
                return ref F24;
            case 25:
                return ref F25;
            case 26:
                return ref F26;
            case 27:
                return ref F27;
            case 28:
                return ref F28;
            case 29:
                return ref F29;
            case 30:
                return ref F30;
            case 31:
                return ref F31;
            case 32:
                return ref F32;
            case 33:
                return ref F33;
            case 34:
                return ref F34;
            case 35:
                return ref F35;
            case 36:
                return ref F36;
            case 37:
                return ref F37;
            case 38:
                return ref F38;
            case 39:
                return ref F39;
            case 40:
                return ref F40;
            case 41:
                return ref F41;
            case 42:
                return ref F42;
            case 43:
                return ref F43;
            case 44:
                return ref F44;
            case 45:
                return ref F45;
            case 46:
                return ref F46;
            case 47:
                return ref F47;
            case 48:
                return ref F48;
            case 49:
                return ref F49;
            case 50:
                return ref F50;
            case 51:
                return ref F51;
            case 52:
                return ref F52;
            case 53:
                return ref F53;
            case 54:
                return ref F54;
            case 55:
                return ref F55;
            case 56:
                return ref F56;
            case 57:
                return ref F57;
            case 58:
                return ref F58;
            case 59:
                return ref F59;
            case 60:
                return ref F60;
            case 61:
                return ref F61;
            case 62:
                return ref F62;
            case 63:
                return ref F63;
            default:
                throw new ArgumentOutOfRangeException(nameof(slot));
        }
    }

    public void SetText(int slot, string value)
    {
        switch (slot)
        {
            case 0:
                T0 = value;
                break;
            case 1:
                T1 = value;
                break;
            case 2:
                T2 = value;
                break;
            case 3:
                T3 = value;
                break;
            case 4:
                T4 = value;
                break;
            case 5:
                T5 = value;
                break;
            case 6:
                T6 = value;
                break;
            case 7:
                T7 = value;
                break;
            case 8:
                T8 = value;
                break;
            case 9:
                T9 = value;
                break;
            case 10:
                T10 = value;
                break;
            case 11:
                T11 = value;
                break;
            case 12:
                T12 = value;
                break;
            case 13:
                T13 = value;
                break;
            case 14:
                T14 = value;
                break;
            case 15:
                T15 = value;
                break;
            case 16:
                T16 = value;
                break;
            case 17:
                T17 = value;
                break;
            case 18:
                T18 = value;
                break;
            case 19:
                T19 = value;
                break;
            case 20:
                T20 = value;
                break;
            case 21:
                T21 = value;
                break;
            case 22:
                T22 = value;
                break;
            case 23:
                T23 = value;
                break;
            case 24:
                T24 = value;
                break;
            case 25:
                T25 = value;
                break;
            case 26:
                T26 = value;
                break;
            case 27:
                T27 = value;
                break;
            case 28:
                T28 = value;
                break;
            case 29:
                T29 = value;
                break;
            case 30:
                T30 = value;
                break;
            case 31:
                T31 = value;
                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(slot));
        }
    }
}
