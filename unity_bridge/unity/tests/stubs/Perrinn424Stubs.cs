// COMPILE-TIME STAND-INS, NOT THE SIMULATOR. The project-424-unity types P424TelemetrySender uses,
// declared as today's simulator declares them (signatures only, no upstream code). Never copy into a
// Unity project: the real ones live in Assets/Scripts/Perrinn424CarController.cs.
//
// Mirrors (PERRINN/project-424-unity, read through the public code index):
//  - Assets/Scripts/Perrinn424CarController.cs, newest text: index id 9091218912, header
//    "Copyright 2011-2025" (PERRINN's history was rewritten after the public forks were taken, so its
//    commit id could not be resolved; newest established by content, see the report). Global namespace.
// Perrinn424Data: every custom data-bus id of that version with its exact value, including those the
// sender does not read. Dropped since 2022 and therefore absent here: ThrottleInput, BrakePressure (bar),
// ElectricalTorque, MechanicalTorque, StatorTorque, RotorTorque (now MguStatorTorque, MguRotorTorque,
// MguTorque), InputMguThrottle, InputBrakePressure. Rear MGU base moved 30 -> 40.
// Resolution: ratios, angles, lengths and torques x1000; ElectricalPower and MguPower in W (not x1000):
// readers divide by 1000 to get kW. UndersteerAngle is int.MinValue when both axles are airborne.

using VehiclePhysics;

public struct Perrinn424Data
{
    public const int ThrottlePosition = 0;
    public const int BrakePosition = 1;
    public const int SteeringWheelAngle = 2;
    public const int EngagedGear = 3;
    public const int DrsPosition = 4;

    public const int FrontDiffFriction = 5;
    public const int RearDiffFriction = 6;

    public const int FrontRideHeight = 10;
    public const int FrontRollAngle = 11;
    public const int RearRideHeight = 12;
    public const int RearRollAngle = 13;
    public const int GroundAngle = 14;
    public const int GroundSlope = 15;

    public const int UndersteerAngle = 16;

    public const int FrontMguBase = 20;
    public const int RearMguBase = 40;

    public const int Rpm = 0;
    public const int Load = 1;
    public const int PowerBalanceFeedForward = 2;
    public const int PowerBalance = 3;
    public const int Efficiency = 4;
    public const int ElectricalPower = 5;
    public const int MguPower = 6;
    public const int MguTorque = 7;
    public const int MguStatorTorque = 8;
    public const int MguRotorTorque = 9;
    public const int ShaftsTorque = 10;
    public const int WheelsTorque = 11;

    public const int EnableProcessedInput = 60;

    public const int InputThrottlePosition = 51;
    public const int InputBrakePosition = 52;
    public const int InputSteerAngle = 53;
    public const int InputGear = 54;
    public const int InputDrsPosition = 55;
    public const int InputLiftAndCoast = 56;
}

public class Perrinn424CarController : VehicleBase
{
    // Read-only upstream (expression-bodied getters over private state the controller updates
    // every physics step); the stand-in's state is set through TestSetInputs.
    float m_throttlePosition;
    float m_brakePosition;
    float m_steerAngle;
    int m_gear;

    public float throttlePosition { get { return m_throttlePosition; } }  // 0..1
    public float brakePosition { get { return m_brakePosition; } }        // 0..1 (pedal position, not a pressure)
    public float steerAngle { get { return m_steerAngle; } }              // steering wheel, deg
    public int gear { get { return m_gear; } }                            // -1 R, 0 N, 1 D

    public void TestSetInputs(float throttle, float brake, float steerAngle, int gear)  // test only
    {
        m_throttlePosition = throttle;
        m_brakePosition = brake;
        m_steerAngle = steerAngle;
        m_gear = gear;
    }
}
