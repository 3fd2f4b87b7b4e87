"""The PERRINN 424 channel catalog: the single source of truth for every channel.

The frame codec (payload layout), the Cassandra schema (window and lap columns), the Grafana
dashboards (one panel per channel) and the ML features all derive from ``CHANNELS`` below.
Adding a channel is one line in ``CHANNELS``, appended at the end, then a new ``CATALOG_VERSION``
and ``python -m p424.catalog register`` (which keeps the previous version readable: see
``p424/catalog/history.py``). Any change to names, units, transport or order changes the catalog
hash; senders of a registered older catalog are still accepted and their channels mapped by name.

Header channels travel in the fixed frame header (session clock, lap, lap distance, markers);
payload channels travel as float32 values in catalog order.

Simulator names (``sim_name``) are those of the newest public PERRINN/project-424-unity sources
(``SIMULATOR_SOURCE``); the names older simulators and lap files used are ``sim_aliases``. Values
are stored in the units below (SI, with kW, kWh and rpm as engineers read them), whatever unit a
lap file's units row or the simulator's telemetry display uses (``p424/units.py`` converts).
Left out on purpose: the simulator's force-feedback, autopilot, benchmark and speed-estimator
channels (they describe its tools, not the car) and AeroSteer, AeroYaw, AeroRoll and
AeroNoDRSSegment (the aero model's own copies of steering, attitude and track zone).
"""

from __future__ import annotations

from p424.catalog.model import Channel, Kind, Transport

CATALOG_VERSION = "1.1.0"

# Where the simulator names come from: PERRINN/project-424-unity, its newest sources as read in
# December 2026 (Perrinn424CarController "Copyright 2011-2025", Unity 2021.3.45f1, VPP SDK v10):
# Assets/Scripts/Telemetry/Perrinn424GenericTelemetry.cs, Perrinn424MguTelemetry.cs (16 channels),
# Assets/Features/Battery/BatteryTelemetryProvider.cs, Assets/Scripts/Aerodynamics/Perrinn424Aerodynamics.cs,
# RawInputTelemetryProvider.cs, and the lap-file export (Assets/Features/AI Speed Estimator/Trainer/data/training_data.csv).
SIMULATOR_SOURCE = "PERRINN/project-424-unity, newest sources (car controller 2011-2025, Unity 2021.3.45f1, VPP SDK v10)"

HEADER, DISCRETE = Transport.HEADER, Kind.DISCRETE
PER_G = 1 / 9.80665  # m/s2 -> g

# One entry per channel. Order of payload channels is the wire order: append new channels at the end.
CHANNELS: tuple[Channel, ...] = (
    # --- timing ---
    Channel(name='sim_time', unit='s', group='timing', lo=0, hi=86400, description='Session clock: seconds since the session started', sim_name='TotalTime', transport=HEADER),
    Channel(name='lap', unit='', group='timing', lo=0, hi=999, description='Lap (segment) number, counted from the session start', sim_name='SegmentNum', sim_aliases=('Segment',), kind=DISCRETE, transport=HEADER),
    Channel(name='lap_distance', unit='m', group='timing', lo=0, hi=21000, description='Distance from the start line along the lap', sim_name='Distance', sim_aliases=('LapDistance',), multiplier=0.001, display_unit='km', transport=HEADER),
    Channel(name='markers', unit='', group='timing', lo=0, hi=65535, description='Marker bitmask (bit 0 time reset, 1 distance reset, 2 reposition, 3 start line, 4 sector line, 9 off track, 10 contact, 11 impact)', sim_name='Markers', kind=DISCRETE, transport=HEADER),
    Channel(name='sector', unit='', group='timing', lo=0, hi=10, description='Sector of the lap, 1-based (lap files count from 0: the writer puts lapTimer.currentSector there, and IdealTelemetryLapCreator walks sectors 0..n-1 against it)', sim_name='Sector', sim_offset=1, kind=DISCRETE),
    Channel(name='total_distance', unit='m', group='timing', lo=0, hi=2000000, description='Distance driven since the session started', sim_name='TotalDistance', multiplier=0.001, display_unit='km'),
    # --- vehicle ---
    Channel(name='speed', unit='m/s', group='vehicle', lo=0, hi=100, description='Vehicle speed', sim_name='Speed', multiplier=3.6, display_unit='km/h', key=True),
    # --- powertrain ---
    Channel(name='motor_rpm_front', unit='rpm', group='powertrain', lo=0, hi=21000, description='Front MGU speed', sim_name='MotorRpmFront', key=True),
    Channel(name='motor_rpm_rear', unit='rpm', group='powertrain', lo=0, hi=21000, description='Rear MGU speed', sim_name='MotorRpmRear', key=True),
    Channel(name='power_electrical_front', unit='kW', group='powertrain', lo=-300, hi=300, description='Front MGU electrical power (negative when regenerating)', sim_name='ElectricalPowerFront', sim_aliases=('PowerElectricalFront',), key=True),
    Channel(name='power_electrical_rear', unit='kW', group='powertrain', lo=-550, hi=550, description='Rear MGU electrical power (negative when regenerating)', sim_name='ElectricalPowerRear', sim_aliases=('PowerElectricalRear',), key=True),
    Channel(name='power_electrical_total', unit='kW', group='powertrain', lo=-800, hi=800, description='Total electrical power drawn from the battery (negative when regenerating)', sim_name='ElectricalPowerTotal', sim_aliases=('PowerElectricalTotal',), key=True),
    Channel(name='power_balance', unit='ratio', group='powertrain', lo=0, hi=1, description='Front share of the power commanded to the MGUs (feed-forward plus offset; the share delivered is power_balance_delivered)', sim_name='PowerBalance', multiplier=100, display_unit='%'),
    Channel(name='efficiency_front', unit='ratio', group='powertrain', lo=0, hi=1, description='Front MGU efficiency', sim_name='EfficiencyFront', multiplier=100, display_unit='%'),
    Channel(name='efficiency_rear', unit='ratio', group='powertrain', lo=0, hi=1, description='Rear MGU efficiency', sim_name='EfficiencyRear', multiplier=100, display_unit='%'),
    Channel(name='torque_mechanical_front', unit='Nm', group='powertrain', lo=-600, hi=600, description='Front MGU torque after efficiency (the simulator\'s MguTorque)', sim_name='MguTorqueFront', sim_aliases=('TorqueMechanicalFront',)),
    Channel(name='torque_mechanical_rear', unit='Nm', group='powertrain', lo=-1200, hi=1200, description='Rear MGU torque after efficiency (the simulator\'s MguTorque)', sim_name='MguTorqueRear', sim_aliases=('TorqueMechanicalRear',)),
    Channel(name='torque_rotor_front', unit='Nm', group='powertrain', lo=-600, hi=600, description='Front MGU rotor torque (final torque in the rotor)', sim_name='MguRotorTorqueFront', sim_aliases=('TorqueRotorFront',)),
    Channel(name='torque_rotor_rear', unit='Nm', group='powertrain', lo=-1200, hi=1200, description='Rear MGU rotor torque (final torque in the rotor)', sim_name='MguRotorTorqueRear', sim_aliases=('TorqueRotorRear',)),
    # --- driver ---
    Channel(name='throttle', unit='ratio', group='driver', lo=0, hi=1, description='Throttle pedal position', sim_name='Throttle', multiplier=100, display_unit='%', key=True),
    Channel(name='brake_pressure', unit='bar', group='driver', lo=0, hi=100, description='Brake line pressure (simulators before 2022; today\'s sends the pedal position, brake_position)', sim_name='BrakePressure', key=True),
    Channel(name='steering_angle', unit='deg', group='driver', lo=-360, hi=360, description='Steering wheel angle, positive to the right (as the simulator)', sim_name='SteeringAngle'),
    Channel(name='gear', unit='', group='driver', lo=-1, hi=1, description='Gear selector: -1 reverse, 0 neutral, 1 drive', sim_name='Gear', kind=DISCRETE),
    # --- differential ---
    Channel(name='torque_diff_front', unit='Nm', group='differential', lo=-2500, hi=2500, description='Front differential torque transfer, left minus right', sim_name='TorqueDiffFront'),
    Channel(name='torque_diff_rear', unit='Nm', group='differential', lo=-2500, hi=2500, description='Rear differential torque transfer, left minus right', sim_name='TorqueDiffRear'),
    Channel(name='speed_diff_front', unit='m/s', group='differential', lo=-5, hi=5, description='Front axle wheel speed difference (simulators before 2022; today\'s sends wheel_rpm_diff_front)', sim_name='SpeedDiffFront'),
    Channel(name='speed_diff_rear', unit='m/s', group='differential', lo=-5, hi=5, description='Rear axle wheel speed difference (simulators before 2022; today\'s sends wheel_rpm_diff_rear)', sim_name='SpeedDiffRear'),
    # --- chassis ---
    Channel(name='accel_longitudinal', unit='m/s2', group='chassis', lo=-50, hi=50, description='Longitudinal acceleration (ISO 8855 x)', sim_name='AccelerationLong', rate_hz=100, multiplier=PER_G, display_unit='g', key=True),
    Channel(name='accel_lateral', unit='m/s2', group='chassis', lo=-50, hi=50, description='Lateral acceleration (ISO 8855 y)', sim_name='AccelerationLat', sim_sign=-1, rate_hz=100, multiplier=PER_G, display_unit='g', key=True),
    Channel(name='accel_vertical', unit='m/s2', group='chassis', lo=-50, hi=50, description='Vertical acceleration (ISO 8855 z), gravity removed: 0 on a flat road', sim_name='AccelerationVert', rate_hz=100, multiplier=PER_G, display_unit='g'),
    Channel(name='roll_rate', unit='rad/s', group='chassis', lo=-2, hi=2, description='Roll rate', sim_name='RollRate'),
    Channel(name='pitch_rate', unit='rad/s', group='chassis', lo=-2, hi=2, description='Pitch rate', sim_name='PitchRate'),
    Channel(name='yaw_rate', unit='rad/s', group='chassis', lo=-3, hi=3, description='Yaw rate (ISO 8855: positive turning left)', sim_name='VelocityYaw', sim_sign=-1, rate_hz=100, multiplier=57.29577951308232, display_unit='deg/s'),
    Channel(name='roll_acceleration', unit='rad/s2', group='chassis', lo=-50, hi=50, description='Angular acceleration about x (motion-platform output)', sim_name='AngularAccelerationX'),
    Channel(name='pitch_acceleration', unit='rad/s2', group='chassis', lo=-50, hi=50, description='Angular acceleration about y (motion-platform output)', sim_name='AngularAccelerationY'),
    Channel(name='yaw_acceleration', unit='rad/s2', group='chassis', lo=-50, hi=50, description='Angular acceleration about z (motion-platform output)', sim_name='AngularAccelerationZ'),
    Channel(name='roll_angle', unit='deg', group='chassis', lo=-5, hi=5, description='Body roll angle', sim_name='RollAngle'),
    Channel(name='ride_height_front', unit='m', group='chassis', lo=0, hi=0.1, description='Front ride height', sim_name='RideHeightFront', rate_hz=100, multiplier=1000, display_unit='mm'),
    Channel(name='ride_height_rear', unit='m', group='chassis', lo=0, hi=0.1, description='Rear ride height', sim_name='RideHeightRear', rate_hz=100, multiplier=1000, display_unit='mm'),
    Channel(name='drs_position', unit='ratio', group='chassis', lo=0, hi=1, description='DRS flap position (0 closed, 1 open)', sim_name='AeroDrsPosition', sim_aliases=('DrsPosition',), multiplier=100, display_unit='%'),
    Channel(name='steering_torque', unit='Nm', group='chassis', lo=-30, hi=30, description='Steering column torque (motion-platform output)', sim_name='SteeringTorque'),
    # --- tyres ---
    Channel(name='slip_ratio_fl', unit='ratio', group='tyres', lo=-0.3, hi=0.3, description='Front-left longitudinal slip ratio', sim_name='SlipRatioFL', multiplier=100, display_unit='%'),
    Channel(name='slip_ratio_fr', unit='ratio', group='tyres', lo=-0.3, hi=0.3, description='Front-right longitudinal slip ratio', sim_name='SlipRatioFR', multiplier=100, display_unit='%'),
    Channel(name='slip_ratio_rl', unit='ratio', group='tyres', lo=-0.3, hi=0.3, description='Rear-left longitudinal slip ratio', sim_name='SlipRatioRL', multiplier=100, display_unit='%'),
    Channel(name='slip_ratio_rr', unit='ratio', group='tyres', lo=-0.3, hi=0.3, description='Rear-right longitudinal slip ratio', sim_name='SlipRatioRR', multiplier=100, display_unit='%'),
    Channel(name='slip_angle_fl', unit='deg', group='tyres', lo=-15, hi=15, description='Front-left slip angle', sim_name='SlipAngleFL'),
    Channel(name='slip_angle_fr', unit='deg', group='tyres', lo=-15, hi=15, description='Front-right slip angle', sim_name='SlipAngleFR'),
    Channel(name='slip_angle_rl', unit='deg', group='tyres', lo=-15, hi=15, description='Rear-left slip angle', sim_name='SlipAngleRL'),
    Channel(name='slip_angle_rr', unit='deg', group='tyres', lo=-15, hi=15, description='Rear-right slip angle', sim_name='SlipAngleRR'),
    Channel(name='tyre_temperature_fl', unit='degC', group='tyres', lo=0, hi=150, description='Front-left tyre surface temperature', sim_name='TyreTemperatureFL'),
    Channel(name='tyre_temperature_fr', unit='degC', group='tyres', lo=0, hi=150, description='Front-right tyre surface temperature', sim_name='TyreTemperatureFR'),
    Channel(name='tyre_temperature_rl', unit='degC', group='tyres', lo=0, hi=150, description='Rear-left tyre surface temperature', sim_name='TyreTemperatureRL'),
    Channel(name='tyre_temperature_rr', unit='degC', group='tyres', lo=0, hi=150, description='Rear-right tyre surface temperature', sim_name='TyreTemperatureRR'),
    # --- battery ---
    Channel(name='battery_temperature', unit='degC', group='battery', lo=0, hi=75, description='Battery cell temperature', sim_name='BatteryTemperature', key=True),
    Channel(name='battery_total_heat', unit='W', group='battery', lo=0, hi=200000, description='Heat generated in the battery', sim_name='BatteryTotalHeat'),
    Channel(name='battery_air_mass_flow', unit='kg/s', group='battery', lo=0, hi=2, description='Cooling air mass flow through the battery', sim_name='BatteryAirMassFlow'),
    Channel(name='battery_heat_dissipation', unit='W/degC', group='battery', lo=0, hi=5000, description='Battery heat dissipation coefficient', sim_name='BatteryHeatDissipation'),
    Channel(name='battery_heat_dissipated', unit='J', group='battery', lo=-1000000000.0, hi=1000000000.0, description='Heat dissipated by the battery since the session started', sim_name='BatteryHeatDissipated'),
    Channel(name='battery_q_internal', unit='J', group='battery', lo=0, hi=1000000000.0, description='Internal heat accumulated in the battery', sim_name='BatteryQInternal'),
    Channel(name='battery_soc', unit='ratio', group='battery', lo=0, hi=1, description='Battery state of charge', sim_name='BatterySOC', multiplier=100, display_unit='%', key=True),
    Channel(name='battery_energy', unit='kWh', group='battery', lo=0, hi=55, description='Usable energy left in the battery', sim_name='BatteryEnergy', key=True),
    # --- 1.1.0: today's simulator (see SIMULATOR_SOURCE) ---
    # position and attitude in the world (Unity axes: y is up, so the track map is x against z)
    Channel(name='position_x', unit='m', group='position', lo=-3500, hi=3500, description="World x of the car (Unity's x axis: to the right of +z)", sim_name='PositionX'),
    Channel(name='position_y', unit='m', group='position', lo=-200, hi=200, description="World y of the car: its height (Unity's y axis is up)", sim_name='PositionY'),
    Channel(name='position_z', unit='m', group='position', lo=-3500, hi=3500, description="World z of the car (Unity's z axis)", sim_name='PositionZ'),
    Channel(name='heading', unit='deg', group='position', lo=0, hi=360, description='Heading: the car\'s yaw angle in the world, clockwise from +z seen from above (window means of an angle that wraps at 360 are not meaningful: use last)', sim_name='RotationY'),
    Channel(name='attitude_pitch', unit='deg', group='position', lo=-15, hi=15, description='Pitch angle of the car in the world, positive nose down (Unity, as the simulator)', sim_name='RotationX'),
    Channel(name='attitude_roll', unit='deg', group='position', lo=-15, hi=15, description='Roll angle of the car in the world, positive left side down (road banking included)', sim_name='RotationZ'),
    # driver inputs
    Channel(name='brake_position', unit='ratio', group='driver', lo=0, hi=1, description='Brake pedal position', sim_name='Brake', multiplier=100, display_unit='%', key=True),
    Channel(name='lift_and_coast', unit='', group='driver', lo=0, hi=1, description='Lift and coast requested (1) or not (0)', sim_name='LiftAndCoast', kind=DISCRETE),
    Channel(name='raw_steer', unit='', group='driver', lo=-10000, hi=10000, description='Steering input as the device reports it', sim_name='RawSteer'),
    Channel(name='raw_throttle', unit='', group='driver', lo=0, hi=10000, description='Throttle input as the device reports it', sim_name='RawThrottle'),
    Channel(name='raw_brake', unit='', group='driver', lo=0, hi=10000, description='Brake input as the device reports it', sim_name='RawBrake'),
    Channel(name='automatic_gear', unit='', group='driver', lo=0, hi=10, description='Automatic gearbox mode of the input device', sim_name='AutomaticGear', kind=DISCRETE),
    # powertrain
    Channel(name='power_balance_feed_forward', unit='ratio', group='powertrain', lo=0, hi=1, description='Front share of power the torque map asks for', sim_name='PowerBalanceFeedForward', multiplier=100, display_unit='%'),
    Channel(name='power_balance_offset', unit='ratio', group='powertrain', lo=-1, hi=1, description='Power balance minus its feed-forward', sim_name='PowerBalanceOffset', multiplier=100, display_unit='%'),
    Channel(name='power_balance_delivered', unit='ratio', group='powertrain', lo=0, hi=1, description='Front share of the electrical power delivered', sim_name='PowerBalanceDelivered', multiplier=100, display_unit='%'),
    Channel(name='wheel_torque_balance', unit='ratio', group='powertrain', lo=0, hi=1, description='Front share of the wheel torque', sim_name='WheelTorqueBalance', multiplier=100, display_unit='%'),
    Channel(name='pre_efficiency_power_front', unit='kW', group='powertrain', lo=-300, hi=300, description='Front MGU power before efficiency (2022-23 simulators only)', sim_name='PreEfficiencyPowerFront'),
    Channel(name='pre_efficiency_power_rear', unit='kW', group='powertrain', lo=-550, hi=550, description='Rear MGU power before efficiency (2022-23 simulators only)', sim_name='PreEfficiencyPowerRear'),
    # differential
    Channel(name='wheel_rpm_diff_front', unit='rpm', group='differential', lo=-500, hi=500, description='Front axle wheel speed difference, left minus right', sim_name='RpmDiffFront'),
    Channel(name='wheel_rpm_diff_rear', unit='rpm', group='differential', lo=-500, hi=500, description='Rear axle wheel speed difference, left minus right', sim_name='RpmDiffRear'),
    Channel(name='torque_friction_front', unit='Nm', group='differential', lo=-2000, hi=2000, description='Front differential friction torque', sim_name='TorqueFrictionFront'),
    Channel(name='torque_friction_rear', unit='Nm', group='differential', lo=-2000, hi=2000, description='Rear differential friction torque', sim_name='TorqueFrictionRear'),
    # wheels
    Channel(name='wheel_speed_fl', unit='m/s', group='wheels', lo=0, hi=100, description='Front-left wheel circumferential speed', sim_name='WheelSpinFL', multiplier=3.6, display_unit='km/h', rate_hz=100),
    Channel(name='wheel_speed_fr', unit='m/s', group='wheels', lo=0, hi=100, description='Front-right wheel circumferential speed', sim_name='WheelSpinFR', multiplier=3.6, display_unit='km/h', rate_hz=100),
    Channel(name='wheel_speed_rl', unit='m/s', group='wheels', lo=0, hi=100, description='Rear-left wheel circumferential speed', sim_name='WheelSpinRL', multiplier=3.6, display_unit='km/h', rate_hz=100),
    Channel(name='wheel_speed_rr', unit='m/s', group='wheels', lo=0, hi=100, description='Rear-right wheel circumferential speed', sim_name='WheelSpinRR', multiplier=3.6, display_unit='km/h', rate_hz=100),
    Channel(name='wheel_rpm_fl', unit='rpm', group='wheels', lo=0, hi=3000, description='Front-left wheel speed', sim_name='nWheelFL'),
    Channel(name='wheel_rpm_fr', unit='rpm', group='wheels', lo=0, hi=3000, description='Front-right wheel speed', sim_name='nWheelFR'),
    Channel(name='wheel_rpm_rl', unit='rpm', group='wheels', lo=0, hi=3000, description='Rear-left wheel speed', sim_name='nWheelRL'),
    Channel(name='wheel_rpm_rr', unit='rpm', group='wheels', lo=0, hi=3000, description='Rear-right wheel speed', sim_name='nWheelRR'),
    Channel(name='wheel_load_fl', unit='N', group='wheels', lo=0, hi=20000, description='Front-left vertical tyre load', sim_name='WheelLoadFL', rate_hz=100),
    Channel(name='wheel_load_fr', unit='N', group='wheels', lo=0, hi=20000, description='Front-right vertical tyre load', sim_name='WheelLoadFR', rate_hz=100),
    Channel(name='wheel_load_rl', unit='N', group='wheels', lo=0, hi=20000, description='Rear-left vertical tyre load', sim_name='WheelLoadRL', rate_hz=100),
    Channel(name='wheel_load_rr', unit='N', group='wheels', lo=0, hi=20000, description='Rear-right vertical tyre load', sim_name='WheelLoadRR', rate_hz=100),
    Channel(name='camber_fl', unit='deg', group='wheels', lo=-10, hi=10, description='Front-left camber at the contact (absent while airborne)', sim_name='CamberFL'),
    Channel(name='camber_fr', unit='deg', group='wheels', lo=-10, hi=10, description='Front-right camber at the contact (absent while airborne)', sim_name='CamberFR'),
    Channel(name='camber_rl', unit='deg', group='wheels', lo=-10, hi=10, description='Rear-left camber at the contact (absent while airborne)', sim_name='CamberRL'),
    Channel(name='camber_rr', unit='deg', group='wheels', lo=-10, hi=10, description='Rear-right camber at the contact (absent while airborne)', sim_name='CamberRR'),
    # suspension and chassis
    Channel(name='suspension_travel_fl', unit='m', group='suspension', lo=0, hi=0.09, description='Front-left suspension travel', sim_name='SuspensionTravelFL', multiplier=1000, display_unit='mm', rate_hz=100),
    Channel(name='suspension_travel_fr', unit='m', group='suspension', lo=0, hi=0.09, description='Front-right suspension travel', sim_name='SuspensionTravelFR', multiplier=1000, display_unit='mm', rate_hz=100),
    Channel(name='suspension_travel_rl', unit='m', group='suspension', lo=0, hi=0.09, description='Rear-left suspension travel', sim_name='SuspensionTravelRL', multiplier=1000, display_unit='mm', rate_hz=100),
    Channel(name='suspension_travel_rr', unit='m', group='suspension', lo=0, hi=0.09, description='Rear-right suspension travel', sim_name='SuspensionTravelRR', multiplier=1000, display_unit='mm', rate_hz=100),
    Channel(name='roll_angle_front', unit='deg', group='chassis', lo=-5, hi=5, description='Front axle roll angle', sim_name='RollAngleFront', rate_hz=100),
    Channel(name='roll_angle_rear', unit='deg', group='chassis', lo=-5, hi=5, description='Rear axle roll angle', sim_name='RollAngleRear', rate_hz=100),
    Channel(name='ground_slope', unit='deg', group='chassis', lo=-15, hi=15, description='Slope of the ground under the car', sim_name='GroundSlope', rate_hz=100),
    Channel(name='ground_grade', unit='ratio', group='chassis', lo=-0.3, hi=0.3, description='Grade of the ground under the car (rise over run)', sim_name='GroundGrade', multiplier=100, display_unit='%', rate_hz=100),
    Channel(name='understeer_angle', unit='deg', group='chassis', lo=-15, hi=15, description='Understeer angle (absent while both axles are airborne)', sim_name='UndersteerAngle', rate_hz=100),
    # aerodynamics
    Channel(name='aero_scz_front', unit='m2', group='aero', lo=0, hi=5, description='Front downforce coefficient times area', sim_name='AeroSczFront'),
    Channel(name='aero_scz_rear', unit='m2', group='aero', lo=0, hi=5, description='Rear downforce coefficient times area', sim_name='AeroSczRear'),
    Channel(name='aero_scx', unit='m2', group='aero', lo=0, hi=2, description='Drag coefficient times area', sim_name='AeroScx'),
    Channel(name='aero_balance', unit='ratio', group='aero', lo=0, hi=1, description='Front share of the downforce', sim_name='AeroBalance', multiplier=100, display_unit='%'),
    Channel(name='aero_downforce_front', unit='N', group='aero', lo=0, hi=15000, description='Front downforce', sim_name='AeroDownforceFront'),
    Channel(name='aero_downforce_rear', unit='N', group='aero', lo=0, hi=15000, description='Rear downforce', sim_name='AeroDownforceRear'),
    Channel(name='aero_drag', unit='N', group='aero', lo=0, hi=15000, description='Aerodynamic drag force', sim_name='AeroDrag'),
    Channel(name='aero_front_flap', unit='deg', group='aero', lo=-5, hi=5, description='Front flap angle', sim_name='AeroFrontFlap'),
    Channel(name='air_density', unit='kg/m3', group='aero', lo=1.1, hi=1.3, description='Air density', sim_name='AirDensity'),
    # battery
    Channel(name='battery_power', unit='kW', group='battery', lo=-600, hi=800, description='Power drawn from the battery (negative when charging)', sim_name='BatteryPower', key=True),
    Channel(name='battery_power_rms', unit='kW', group='battery', lo=0, hi=1000, description='RMS of the battery power since the lap started', sim_name='BatteryPowerRMS'),
    Channel(name='battery_net_energy', unit='kWh', group='battery', lo=0, hi=55, description='Net energy drawn from the battery since the lap started', sim_name='BatteryNetEnergy'),
)
