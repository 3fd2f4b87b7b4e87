// COMPILE-TIME STAND-INS, NOT VEHICLE PHYSICS PRO. Declarations only of the VPP members
// P424TelemetrySender uses, with the names and types today's simulator compiles against, plus
// setters the tests need to drive them (marked "test only"). No VPP behaviour is reproduced.
// Never copy into a Unity project: VPP is a binary SDK inside project-424-unity.
//
// Mirrors (PERRINN/project-424-unity, read through the public code index; VPP SDK v10):
//  - Assets/Scripts/API References/Telemetry API reference.cs @ 30802468a85ee015febf16af11da732b73500c43
//    (2021-12-15, the newest text of VPP's own Telemetry reference): Telemetry.channels, latest,
//    GetChannelIndex(string), GetChannelSemmantic(int) (VPP's spelling), ChannelInfo.name / fullName,
//    SemanticInfo.displayMultiplier / displayUnitsSuffix / displayUnits, DataRow fields, Marker.
//  - Assets/Scripts/API References/Databus API reference.cs @ a531eb1e6eca9659fe1733ca9e9ce77ad3f0d217
//    (VPP "Copyright 2011-2022"): Channel, InputData values, DataBus.Get(int).
//  - VehicleBase members as the newest sources use them: Assets/Scripts/Perrinn424CarController.cs
//    (index id 9091218912, "Copyright 2011-2025": cachedTransform, cachedRigidbody, speed, data) and
//    Assets/Scripts/Telemetry/Perrinn424GenericTelemetry.cs (newest text, index id 9387784521:
//    wheelState[GetWheelIndex(axle, WheelPos)], GetAxleCount(), angularVelocity, driveTorque,
//    grounded, wheelContact.camber, telemetry.latest). WheelState.slipRatio / slipAngle: an older
//    Perrinn424GenericTelemetry.cs (index id 179398557). localAcceleration /
//    localAngularAcceleration: Assets/Hardware Integrations/Dynisma/Input Output/
//    DynismaMotionPlatformDMG1.cs @ 110d7a32c0c7f835dc652dbf9653bc880b68e055.
// Uncertain, because VPP ships as a binary: whether a member is a field or a property (either reads
// the same), the type name of WheelState.wheelContact, and displayUnits being displayUnitsSuffix
// without its spaces (inferred: suffixes are " km/h", the lap files' units row reads "km/h").

using System.Collections.Generic;
using UnityEngine;

namespace VehiclePhysics
{
    public struct Channel
    {
        public const int Input = 0;
        public const int RaceInput = 1;
        public const int Vehicle = 2;
        public const int Settings = 3;
        public const int Custom = 4;
        public const int Count = 5;
    }

    public struct InputData
    {
        public const int Steer = 0;
        public const int Throttle = 1;
        public const int Brake = 2;
        public const int Handbrake = 3;
        public const int Clutch = 4;
        public const int ManualGear = 5;
        public const int AutomaticGear = 6;
        public const int GearShift = 7;
        public const int Retarder = 8;
        public const int Key = 9;
        public const int Max = 10;
    }

    public class DataBus
    {
        // Sizes as the reference's DataBus(): InputData.Max, RaceInputData.Max, VehicleData.Max, SettingsData.Max, 100.
        readonly int[][] m_data = { new int[InputData.Max], new int[16], new int[26], new int[10], new int[100] };

        public int[] Get(int idChannel) { return m_data[idChannel]; }
    }

    public class Telemetry
    {
        public class SemanticInfo
        {
            public float displayMultiplier = 1.0f;
            public string displayUnitsSuffix = "";  // units with any spaces, e.g. " km/h"

            public string displayUnits { get { return displayUnitsSuffix.Trim(); } }
        }

        public class ChannelInfo
        {
            public string name = "<no name>";
            public SemanticInfo customSemantic = new SemanticInfo();  // stand-in: every channel's semantic

            public string fullName { get { return name; } }
        }

        public class DataRow
        {
            public int frame;
            public double time;
            public double distance;
            public double totalTime;
            public double totalDistance;
            public int segmentNum;
            public int markers;
            public float markerTime;
            public bool markerFlag;
            public bool valuesUpdated;
            public float[] values;
            public bool[] updated;
        }

        public enum Marker { TimeReset = 0, DistanceReset, Reposition, StartLinePass, SectorLinePass, Driver = 8, OffTrack, Contact, Impact, Custom = 16 }

        readonly List<ChannelInfo> m_channels = new List<ChannelInfo>();

        public DataRow latest { get; set; }  // setter: test only
        public IList<ChannelInfo> channels { get { return m_channels; } }

        public int GetChannelIndex(string channelName)
        {
            for (int i = 0; i < m_channels.Count; i++)
                if (m_channels[i].name == channelName)
                    return i;
            return -1;
        }

        public SemanticInfo GetChannelSemmantic(int channelIndex)
        {
            return m_channels[channelIndex].customSemantic;
        }

        // Test only: VPP registers channel groups (Register<T>) whose GetChannelInfo names them.
        public void AddChannel(string name, string unitsSuffix, float displayMultiplier)
        {
            ChannelInfo info = new ChannelInfo { name = name };
            info.customSemantic.displayUnitsSuffix = unitsSuffix;
            info.customSemantic.displayMultiplier = displayMultiplier;
            m_channels.Add(info);
        }
    }

    public class VehicleBase : MonoBehaviour
    {
        public enum WheelPos { Left, Right }

        public struct WheelContact  // type name not in the public sources; only .camber is read
        {
            public float camber;  // rad
        }

        public class WheelState
        {
            public float angularVelocity;  // rad/s
            public float driveTorque;      // Nm
            public bool grounded;
            public float slipRatio;
            public float slipAngle;        // deg
            public WheelContact wheelContact;
        }

        public DataBus data { get; set; } = new DataBus();
        public Telemetry telemetry { get; set; }
        public float speed { get; set; }
        public Vector3 localAcceleration { get; set; }
        public Vector3 localAngularAcceleration { get; set; }
        public Rigidbody cachedRigidbody { get; set; }
        public Transform cachedTransform { get; set; }
        public WheelState[] wheelState { get; set; }

        // Stand-in wheel layout: axle-major, left then right (the 424 configures FL, FR, RL, RR = 0..3).
        public int GetWheelIndex(int axle, WheelPos position) { return axle * 2 + (position == WheelPos.Left ? 0 : 1); }
        public int GetAxleCount() { return wheelState == null ? 0 : wheelState.Length / 2; }
    }

    public class VehicleBehaviour : MonoBehaviour
    {
        public VehicleBase vehicle { get; set; }  // setter: test only (VPP assigns it)

        public virtual int GetUpdateOrder() { return 0; }
        public virtual void OnEnableVehicle() { }
        public virtual void OnDisableVehicle() { }
        public virtual void FixedUpdateVehicle() { }
    }
}
