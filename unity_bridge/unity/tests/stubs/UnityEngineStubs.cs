// COMPILE-TIME STAND-INS, NOT UNITY. Only the UnityEngine members P424TelemetrySender touches, so the
// sender compiles and runs under Mono in tests/test_unity_sender.py. Never copy into a Unity project.
//
// Mirrors the UnityEngine scripting API of Unity 2021.3 (the newest project-424-unity,
// ProjectSettings/ProjectVersion.txt @ 2bc4e156f17d154a5ed632b5de7fdd898f42f7ba: 2021.3.45f1):
// Transform.position (world, m) and Transform.eulerAngles (degrees, each in [0, 360)), as
// Assets/Scripts/Telemetry/Perrinn424GenericTelemetry.cs (index id 9387784521) reads them for its
// PositionX/Y/Z and RotationX/Y/Z channels; Rigidbody.angularVelocity (world, rad/s).

using System;

namespace UnityEngine
{
    public class Object { }

    public class Component : Object { }

    public class Behaviour : Component
    {
        public bool enabled { get; set; } = true;
    }

    public class MonoBehaviour : Behaviour { }

    public struct Vector3
    {
        public float x, y, z;

        public Vector3(float x, float y, float z)
        {
            this.x = x;
            this.y = y;
            this.z = z;
        }
    }

    public class Rigidbody : Component
    {
        public Vector3 angularVelocity { get; set; }
    }

    public class Transform : Component
    {
        public Vector3 position { get; set; }
        public Vector3 eulerAngles { get; set; }
    }

    public static class Time
    {
        public static float fixedDeltaTime { get; set; } = 0.02f;
    }

    public static class Mathf
    {
        public static int Clamp(int value, int min, int max) { return value < min ? min : value > max ? max : value; }
        public static int Max(int a, int b) { return a > b ? a : b; }
        public static int RoundToInt(float f) { return (int)Math.Round(f); }
    }

    public static class Debug
    {
        public static void Log(object message) { Console.Error.WriteLine("[Log] " + message); }
        public static void LogWarning(object message) { Console.Error.WriteLine("[Warning] " + message); }
    }

    [AttributeUsage(AttributeTargets.Field)]
    public class HeaderAttribute : Attribute
    {
        public HeaderAttribute(string header) { }
    }

    [AttributeUsage(AttributeTargets.Field)]
    public class TooltipAttribute : Attribute
    {
        public TooltipAttribute(string tooltip) { }
    }

    [AttributeUsage(AttributeTargets.Field)]
    public class RangeAttribute : Attribute
    {
        public RangeAttribute(float min, float max) { }
    }
}
